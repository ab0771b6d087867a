import { checkRequestContext, type RequestUrlContext, TRAVELLING_HEADERS, type TravellingHeader } from '@taskq/core';
import type { Request } from 'express';
import { BadRequestHostError } from './errors.js';

type TrustFn = (address: string | undefined, hop: number) => boolean;

/**
 * The URL context of an Express request, as a task will see it. Protocol and
 * host come from `req.protocol` / `req.host`, so they follow the app's
 * `trust proxy` setting for X-Forwarded-Proto and X-Forwarded-Host exactly as
 * Express does; X-Forwarded-Port is read under the same trust.
 */
export function expressUrlContext(req: Request, basePath: string, routes: Readonly<Record<string, string>>): RequestUrlContext {
  const protocol = req.protocol.toLowerCase() === 'https' ? 'https' : 'http';
  const { host, port: hostPort } = splitHost(req.host);
  const port = forwardedPort(req) ?? hostPort;
  const headers: Partial<Record<TravellingHeader, string>> = {};
  for (const name of TRAVELLING_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const context: RequestUrlContext = { protocol, host, basePath, routes, headers, ...(port === undefined ? {} : { port }) };
  try {
    // The worker runs the same check on what arrives; failing here turns a hostile Host header into a 400, not a dead letter.
    return checkRequestContext(context);
  } catch (error) {
    throw new BadRequestHostError(`host ${JSON.stringify(req.host)} (protocol ${protocol}, port ${port ?? 'default'}) is not a valid host name`, { cause: error });
  }
}

/** Splits `example.com:8080` and `[::1]:3000`; no port means the protocol's default. */
export function splitHost(value: string | undefined): { host: string; port: number | undefined } {
  const text = (value ?? '').trim();
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(text);
  if (!match) return { host: text, port: undefined };
  return { host: match[1].toLowerCase(), port: match[2] === undefined ? undefined : Number(match[2]) };
}

function forwardedPort(req: Request): number | undefined {
  const header = req.headers['x-forwarded-port'];
  if (typeof header !== 'string') return undefined;
  // Express has no accessor for X-Forwarded-Port; ask the same compiled trust function req.protocol and req.host use.
  const trust = req.app.get('trust proxy fn') as TrustFn | undefined;
  if (typeof trust !== 'function' || !trust(req.socket.remoteAddress, 0)) return undefined;
  // With X-Forwarded-Host carrying its own port, that port wins (it is what req.host returned).
  if (typeof req.headers['x-forwarded-host'] === 'string' && splitHost(req.host).port !== undefined) return undefined;
  const first = header.split(',')[0].trim();
  const port = Number(first);
  return /^\d{1,5}$/.test(first) && port > 0 && port < 65_536 ? port : undefined;
}
