import { checkRequestContext, type RequestUrlContext, TRAVELLING_HEADERS, type TravellingHeader } from '@taskq/core';
import type { FastifyRequest } from 'fastify';
import { BadRequestHostError } from './errors.js';

/**
 * The URL context of a Fastify request, as a task will see it. Protocol and
 * host come from `request.protocol` / `request.host`, so they follow the
 * server's `trustProxy` setting for X-Forwarded-Proto and X-Forwarded-Host
 * exactly as Fastify does; X-Forwarded-Port is read under the same trust.
 */
export function fastifyUrlContext(request: FastifyRequest, basePath: string, routes: Readonly<Record<string, string>>): RequestUrlContext {
  const protocol = String(request.protocol).toLowerCase() === 'https' ? 'https' : 'http';
  const { host, port: hostPort } = splitHost(request.host);
  const port = forwardedPort(request) ?? hostPort;
  const headers: Partial<Record<TravellingHeader, string>> = {};
  for (const name of TRAVELLING_HEADERS) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const context: RequestUrlContext = { protocol, host, basePath, routes, headers, ...(port === undefined ? {} : { port }) };
  try {
    // The worker runs the same check on what arrives; failing here turns a hostile Host header into a 400, not a dead letter.
    return checkRequestContext(context);
  } catch (error) {
    throw new BadRequestHostError(`host ${JSON.stringify(request.host)} (protocol ${protocol}, port ${port ?? 'default'}) is not a valid host name`, { cause: error });
  }
}

/** Splits `example.com:8080` and `[::1]:3000`; no port means the protocol's default. */
export function splitHost(value: string | undefined): { host: string; port: number | undefined } {
  const text = (value ?? '').trim();
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(text);
  if (!match) return { host: text, port: undefined };
  return { host: match[1].toLowerCase(), port: match[2] === undefined ? undefined : Number(match[2]) };
}

const PROBE = 'taskq-trust-probe.invalid';

/**
 * Whether Fastify trusts the proxy this request came through. Fastify keeps
 * its trust function private; its `host` getter applies it to
 * X-Forwarded-Host, so ask that getter about a probe header on a stand-in
 * with this request's socket. Anything unexpected means "not trusted".
 */
function trustsProxy(request: FastifyRequest): boolean {
  try {
    const standIn = Object.create(Object.getPrototypeOf(request), {
      raw: { value: { headers: { 'x-forwarded-host': PROBE }, socket: request.raw.socket } },
      additionalHeaders: { value: undefined },
    }) as FastifyRequest;
    return standIn.host === PROBE;
  } catch {
    return false;
  }
}

function forwardedPort(request: FastifyRequest): number | undefined {
  const header = request.headers['x-forwarded-port'];
  if (typeof header !== 'string' || !trustsProxy(request)) return undefined;
  // With X-Forwarded-Host carrying its own port, that port wins (it is what request.host returned).
  if (typeof request.headers['x-forwarded-host'] === 'string' && splitHost(request.host).port !== undefined) return undefined;
  const last = header.split(',').at(-1)?.trim() ?? '';
  const port = Number(last);
  return /^\d{1,5}$/.test(last) && port > 0 && port < 65_536 ? port : undefined;
}
