import { type AllowedHosts, type RequestOrigin, type RequestUrlContext, requestUrlContext } from '@taskq/core';
import type { Request } from 'express';

type TrustFn = (address: string | undefined, hop: number) => boolean;

/**
 * The URL context of an Express request, as a task will see it, with its
 * host checked against `allowedHosts` (throws `BadRequestHostError`, status
 * 400). Protocol and host come from `req.protocol` / `req.host`, so they
 * follow the app's `trust proxy` setting for X-Forwarded-Proto and
 * X-Forwarded-Host exactly as Express does; X-Forwarded-Port is read under
 * the same trust.
 */
export function expressUrlContext(req: Request, basePath: string, routes: Readonly<Record<string, string>>, allowedHosts: AllowedHosts): RequestUrlContext {
  return requestUrlContext(expressOrigin(req), { basePath, routes, allowedHosts });
}

function expressOrigin(req: Request): RequestOrigin {
  return {
    protocol: req.protocol,
    host: req.host,
    forwardedHost: typeof req.headers['x-forwarded-host'] === 'string',
    forwardedPort: forwardedPort(req),
    headers: req.headers,
  };
}

function forwardedPort(req: Request): string | undefined {
  const header = req.headers['x-forwarded-port'];
  if (typeof header !== 'string') return undefined;
  // Express has no accessor for X-Forwarded-Port; ask the same compiled trust function req.protocol and req.host use.
  const trust = req.app.get('trust proxy fn') as TrustFn | undefined;
  if (typeof trust !== 'function' || !trust(req.socket.remoteAddress, 0)) return undefined;
  // The first entry, as req.host takes the first of X-Forwarded-Host.
  return header.split(',')[0];
}
