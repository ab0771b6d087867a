import { type AllowedHosts, type RequestOrigin, type RequestUrlContext, requestUrlContext } from '@taskq/core';
import type { FastifyRequest } from 'fastify';

/**
 * The URL context of a Fastify request, as a task will see it, with its
 * host checked against `allowedHosts` (throws `BadRequestHostError`, status
 * 400). Protocol and host come from `request.protocol` / `request.host`, so
 * they follow the server's `trustProxy` setting for X-Forwarded-Proto and
 * X-Forwarded-Host exactly as Fastify does; X-Forwarded-Port is read under
 * the same trust.
 */
export function fastifyUrlContext(request: FastifyRequest, basePath: string, routes: Readonly<Record<string, string>>, allowedHosts: AllowedHosts): RequestUrlContext {
  return requestUrlContext(fastifyOrigin(request), { basePath, routes, allowedHosts });
}

function fastifyOrigin(request: FastifyRequest): RequestOrigin {
  return {
    protocol: String(request.protocol),
    host: request.host,
    forwardedHost: typeof request.headers['x-forwarded-host'] === 'string',
    forwardedPort: forwardedPort(request),
    headers: request.headers,
  };
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

function forwardedPort(request: FastifyRequest): string | undefined {
  const header = request.headers['x-forwarded-port'];
  if (typeof header !== 'string' || !trustsProxy(request)) return undefined;
  // The last entry, as request.host takes the last of X-Forwarded-Host.
  return header.split(',').at(-1);
}
