import { isIPv4 } from 'node:net';
import { InvalidOptionError, TaskqError } from '@taskq/core';
import { parseHost } from '@taskq/core/adapter';

/**
 * The request's Host (or trusted X-Forwarded-Host / X-Forwarded-Port) is not
 * a valid host and port, or names a host the app does not serve
 * (`allowedHosts`). The HTTP adapters raise it before the route runs, so the
 * client gets 400 Bad Request and no handler, link or task ever sees the host.
 */
export class BadRequestHostError extends TaskqError {
  /** The HTTP status for Express's error handling (`status`) and Fastify's (`statusCode`). */
  readonly status = 400;
  readonly statusCode = 400;
  /** The message describes the client's own header, so it may be shown to the client (http-errors' convention). */
  readonly expose = true;
  constructor(detail: string, options?: { cause?: unknown }) {
    super('TASKQ_BAD_REQUEST_HOST', `bad Host for this request: ${detail}`, options);
  }
}

/** The hosts an app answers to, resolved from an `allowedHosts` option. */
export interface AllowedHosts {
  /** The patterns in force (the given ones, or the development default). */
  readonly patterns: readonly string[];
  /**
   * Whether `host` (as {@link parseHost} gives it) on `port` (the protocol's default when the Host named none) matches
   * a pattern.
   */
  allows(host: string, port: number): boolean;
}

/**
 * What `allowedHosts` is when the option is not given and `NODE_ENV` is not `production`: loopback names only, as
 * Django does in DEBUG.
 */
export const DEVELOPMENT_HOSTS: readonly string[] = Object.freeze(['.localhost', '127.0.0.1', '[::1]']);

type Pattern =
  | { readonly any: true }
  | { readonly any: false; readonly host: string; readonly port: number | undefined; readonly subdomains: boolean };

/**
 * Validates an `allowedHosts` option once, at construction, and returns the
 * matcher. Patterns follow Django's ALLOWED_HOSTS: `'app.example'` (that
 * host, any port), `'.example.com'` (example.com and every subdomain),
 * `'localhost:3000'` (that host on that port only), `'*'` (any valid host).
 * Without the option: {@link DEVELOPMENT_HOSTS}, except when `production`
 * (by default `NODE_ENV === 'production'`), where it is required: a public
 * app must say which hosts it serves, or every link it builds trusts the client.
 */
export function resolveAllowedHosts(
  option: unknown,
  name = 'allowedHosts',
  production = process.env.NODE_ENV === 'production',
): AllowedHosts {
  if (option === undefined) {
    if (production) {
      throw new InvalidOptionError(
        name,
        "required when NODE_ENV is 'production': list the hosts this app is served under, e.g. ['app.example.com', '.example.com'], or ['*'] only if a proxy in front already refuses every other Host",
      );
    }
    return matcher(DEVELOPMENT_HOSTS, DEVELOPMENT_HOSTS.map(parsePattern) as Pattern[]);
  }
  if (!Array.isArray(option) || option.length === 0) {
    throw new InvalidOptionError(
      name,
      `expected a non-empty array of host patterns such as ['app.example.com', '.example.com', 'localhost:3000'], got ${JSON.stringify(option)}`,
    );
  }
  const patterns = option.map((entry: unknown, i) => {
    const pattern = parsePattern(entry);
    if (!pattern) {
      throw new InvalidOptionError(
        `${name}[${i}]`,
        `expected a host name, IPv4 or [IPv6] address with an optional :port, '.example.com' for a domain and its subdomains, or '*'; got ${JSON.stringify(entry)}`,
      );
    }
    return pattern;
  });
  return matcher(Object.freeze([...option] as string[]), patterns);
}

function parsePattern(entry: unknown): Pattern | undefined {
  if (entry === '*') return { any: true };
  if (typeof entry !== 'string') return undefined;
  const subdomains = entry.startsWith('.');
  const parsed = parseHost(subdomains ? entry.slice(1) : entry);
  if (!parsed) return undefined;
  // A domain suffix only makes sense for a name: `.10.0.0.1` or `.[::1]` would be a typo.
  if (subdomains && (parsed.host.startsWith('[') || isIPv4(parsed.host))) return undefined;
  return { any: false, host: parsed.host, port: parsed.port, subdomains };
}

function matcher(patterns: readonly string[], parsed: readonly Pattern[]): AllowedHosts {
  return {
    patterns,
    allows(host: string, port: number): boolean {
      return parsed.some(
        (p) =>
          p.any ||
          ((host === p.host || (p.subdomains && host.endsWith(`.${p.host}`))) &&
            (p.port === undefined || p.port === port)),
      );
    },
  };
}
