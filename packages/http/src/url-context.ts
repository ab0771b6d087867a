import type { RequestUrlContext, TravellingHeader } from '@taskq/core';
import { parseHost, parsePort, TRAVELLING_HEADERS } from '@taskq/core/adapter';
import { type AllowedHosts, BadRequestHostError } from './host-check.js';

/**
 * What an HTTP adapter reads off its framework's request, after the
 * framework applied its own trust-proxy rules: the neutral input of
 * {@link requestUrlContext}.
 */
export interface RequestOrigin {
  /** The scheme (`req.protocol`: X-Forwarded-Proto when the proxy is trusted). */
  readonly protocol: string;
  /** The Host header, or the trusted X-Forwarded-Host, as the framework picked it (`req.host`), port included. */
  readonly host: string | undefined;
  /** Whether the request carried X-Forwarded-Host: a port in it then wins over X-Forwarded-Port. */
  readonly forwardedHost: boolean;
  /** The X-Forwarded-Port entry the framework's trust rules pick; `undefined` when absent or not trusted. */
  readonly forwardedPort: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Where the app is mounted, its named routes and the hosts it serves. */
export interface UrlContextOptions {
  readonly basePath: string;
  readonly routes: Readonly<Record<string, string>>;
  readonly allowedHosts: AllowedHosts;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/**
 * The URL context of a live request: the one place every adapter checks the
 * host its links and `Location` headers will name. The host must parse
 * strictly ({@link parseHost}) and match `allowedHosts`; a trusted
 * X-Forwarded-Host goes through the same check because it arrives here as
 * `host`. Throws {@link BadRequestHostError} (status 400) otherwise.
 */
export function requestUrlContext(origin: RequestOrigin, options: UrlContextOptions): RequestUrlContext {
  const protocol = String(origin.protocol).toLowerCase() === 'https' ? 'https' : 'http';
  const parsed = parseHost(typeof origin.host === 'string' ? origin.host.trim() : origin.host);
  if (!parsed) {
    const what =
      typeof origin.host === 'string' && origin.host !== '' ? `the Host ${quote(origin.host)}` : 'a missing Host';
    throw new BadRequestHostError(`${what} is not a host name, IPv4 or [IPv6] address with an optional port 1-65535`);
  }
  let port = parsed.port;
  // X-Forwarded-Host carrying its own port is what the client asked for; otherwise the proxy's X-Forwarded-Port names
  // the public port.
  if (origin.forwardedPort !== undefined && !(origin.forwardedHost && parsed.port !== undefined)) {
    port = parsePort(origin.forwardedPort.trim());
    if (port === undefined)
      throw new BadRequestHostError(`X-Forwarded-Port ${quote(origin.forwardedPort)} is not a port 1-65535`);
  }
  if (!options.allowedHosts.allows(parsed.host, port ?? DEFAULT_PORT[protocol])) {
    throw new BadRequestHostError(
      `the host ${quote(port === undefined ? parsed.host : `${parsed.host}:${port}`)} is not one of the hosts this app serves (the adapter's allowedHosts option)`,
    );
  }
  const headers: Partial<Record<TravellingHeader, string>> = {};
  for (const name of TRAVELLING_HEADERS) {
    const value = origin.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const context: RequestUrlContext = {
    protocol,
    host: parsed.host,
    basePath: options.basePath,
    routes: options.routes,
    headers,
  };
  return port === undefined || port === DEFAULT_PORT[protocol] ? context : { ...context, port };
}

/**
 * The client's value in a message it will read: quoted and cut short, so a hostile header cannot fill a log line or a
 * response.
 */
function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}
