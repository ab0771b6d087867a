import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Html } from './html.js';

/** @internal The Content-Security-Policy of every answer: scripts, styles and connections to this origin only. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** Writes the security headers, plus `headers`, and the status. */
export function writeHead(res: ServerResponse, status: number, headers: Record<string, string | string[]>): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
}

/** Answers a page (or a fragment) of HTML, never cached. */
export function sendHtml(
  res: ServerResponse,
  status: number,
  body: Html,
  extra: Record<string, string | string[]> = {},
): void {
  const bytes = Buffer.from(body.text, 'utf8');
  writeHead(res, status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(bytes.length),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(res.req?.method === 'HEAD' ? undefined : bytes);
}

/** A 303 to `location` (a path of the dashboard). */
export function redirect(res: ServerResponse, location: string): void {
  writeHead(res, 303, { location, 'cache-control': 'no-store', 'content-length': '0' });
  res.end();
}

/** Answers JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  writeHead(res, status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(bytes.length),
    'cache-control': 'no-store',
  });
  res.end(bytes);
}

/** The request's cookies by name (the first of each). */
export function cookies(request: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    if (!out.has(name)) out.set(name, part.slice(at + 1).trim());
  }
  return out;
}

/** @internal The CSRF cookie's name. */
export const CSRF_COOKIE = 'taskq_dashboard_csrf';
/** @internal The header an action sent by the script carries the token in (forms use the `_csrf` field). */
export const CSRF_HEADER = 'x-taskq-csrf';
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A new random token (256 bits, base64url). */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The request's CSRF cookie when it holds a well-formed token. */
export function csrfCookie(request: IncomingMessage): string | undefined {
  const token = cookies(request).get(CSRF_COOKIE);
  return token !== undefined && TOKEN.test(token) ? token : undefined;
}

/** The Set-Cookie value of a token: readable by this path only, sent back by same-site requests only. */
export function csrfSetCookie(token: string, path: string, secure: boolean): string {
  return `${CSRF_COOKIE}=${token}; Path=${path || '/'}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** Whether `given` is the cookie's token, compared in constant time. */
export function sameToken(cookie: string | undefined, given: string | undefined): boolean {
  if (cookie === undefined || given === undefined || !TOKEN.test(given)) return false;
  return timingSafeEqual(Buffer.from(cookie), Buffer.from(given));
}

const MAX_BODY = 16 * 1024;

/**
 * The form fields of a POST: from the body a framework already parsed (`request.body`), or read from the stream
 * (urlencoded, at most 16 KiB).
 */
export async function formFields(request: IncomingMessage & { body?: unknown }): Promise<URLSearchParams> {
  const parsed = request.body;
  if (typeof parsed === 'string') return new URLSearchParams(parsed);
  if (Buffer.isBuffer(parsed)) return new URLSearchParams(parsed.toString('utf8'));
  if (typeof parsed === 'object' && parsed !== null) {
    const fields = new URLSearchParams();
    for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') fields.set(key, value);
    return fields;
  }
  if (request.readableEnded) return new URLSearchParams();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) break;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
