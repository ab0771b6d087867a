import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The base URL of a listening server. */
export function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A tiny browser: keeps the dashboard's cookie, reads the CSRF field of the last page. */
export class Client {
  readonly origin: string;
  cookie = '';
  csrf = '';

  constructor(origin: string) {
    this.origin = origin;
  }

  async get(path: string): Promise<{ status: number; text: string; headers: Headers }> {
    const response = await fetch(`${this.origin}${path}`, {
      headers: this.cookie ? { cookie: this.cookie } : {},
      redirect: 'manual',
    });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0];
    const text = await response.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (token) this.csrf = token;
    return { status: response.status, text, headers: response.headers };
  }

  async post(
    path: string,
    fields: Record<string, string>,
    options: { csrf?: string | null; cookie?: string | null; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; text: string; location: string | null }> {
    const body = new URLSearchParams(fields);
    const csrf = options.csrf === undefined ? this.csrf : options.csrf;
    if (csrf !== null) body.set('_csrf', csrf);
    const cookie = options.cookie === undefined ? this.cookie : options.cookie;
    const response = await fetch(`${this.origin}${path}`, {
      method: 'POST',
      body,
      headers: { ...(cookie ? { cookie } : {}), ...options.headers },
      redirect: 'manual',
    });
    return { status: response.status, text: await response.text(), location: response.headers.get('location') };
  }
}
