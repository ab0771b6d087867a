import { isIPv4, isIPv6 } from 'node:net';
import { InvalidOptionError, TaskqError } from '../errors.js';

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

/** A host as a URL uses it: lower case, IPv6 in brackets, no trailing dot; `port` only when the header named one. */
export interface HostAndPort {
  readonly host: string;
  readonly port: number | undefined;
}

/**
 * Parses a Host header value strictly: an RFC 1123 host name, a dotted IPv4
 * address or a bracketed IPv6 address (no zone id), then at most one
 * `:port` of 1-65535 without leading zeros. Anything else (a path, a second
 * port, user info, an underscore) gives `undefined`.
 */
export function parseHost(value: unknown): HostAndPort | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 300) return undefined;
  const text = value.toLowerCase();
  let host: string;
  let rest: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end === -1) return undefined;
    host = text.slice(0, end + 1);
    rest = text.slice(end + 1);
    if (!isIpv6Literal(host.slice(1, -1))) return undefined;
  } else {
    const colon = text.indexOf(':');
    host = colon === -1 ? text : text.slice(0, colon);
    rest = colon === -1 ? '' : text.slice(colon);
    // `example.com.` is the same host as `example.com` (a fully qualified name); links use the usual form.
    if (host.endsWith('.')) host = host.slice(0, -1);
    if (!isHostName(host)) return undefined;
  }
  if (rest === '') return { host, port: undefined };
  const port = parsePort(rest.slice(1));
  return rest.startsWith(':') && port !== undefined ? { host, port } : undefined;
}

/** A port as text: 1-65535, digits only, no leading zero. */
export function parsePort(text: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65_535 ? port : undefined;
}

/** Whether `host` (without port) is a host name, an IPv4 address, or an IPv6 address with or without brackets. */
export function isValidHost(host: unknown): boolean {
  if (typeof host !== 'string') return false;
  if (host.startsWith('[') && host.endsWith(']')) return isIpv6Literal(host.slice(1, -1));
  return isIpv6Literal(host) || isHostName(host);
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const labels = host.split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  // A URL parser reads a host whose last label is a number as an IPv4 address (WHATWG URL), so it must be a valid one.
  const last = labels[labels.length - 1];
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/i.test(last)) return isIPv4(host);
  return true;
}

function isIpv6Literal(text: string): boolean {
  // A zone id (`%eth0`) names an interface of the server, never something a client's link can use.
  return !text.includes('%') && isIPv6(text);
}

/** The hosts an app answers to, resolved from an `allowedHosts` option. */
export interface AllowedHosts {
  /** The patterns in force (the given ones, or the development default). */
  readonly patterns: readonly string[];
  /** Whether `host` (as {@link parseHost} gives it) on `port` (the protocol's default when the Host named none) matches a pattern. */
  allows(host: string, port: number): boolean;
}

/** What `allowedHosts` is when the option is not given and `NODE_ENV` is not `production`: loopback names only, as Django does in DEBUG. */
export const DEVELOPMENT_HOSTS: readonly string[] = Object.freeze(['.localhost', '127.0.0.1', '[::1]']);

type Pattern = { readonly any: true } | { readonly any: false; readonly host: string; readonly port: number | undefined; readonly subdomains: boolean };

/**
 * Validates an `allowedHosts` option once, at construction, and returns the
 * matcher. Patterns follow Django's ALLOWED_HOSTS: `'app.example'` (that
 * host, any port), `'.example.com'` (example.com and every subdomain),
 * `'localhost:3000'` (that host on that port only), `'*'` (any valid host).
 * Without the option: {@link DEVELOPMENT_HOSTS}, except when `production`
 * (by default `NODE_ENV === 'production'`), where it is required: a public
 * app must say which hosts it serves, or every link it builds trusts the client.
 */
export function resolveAllowedHosts(option: unknown, name = 'allowedHosts', production = process.env.NODE_ENV === 'production'): AllowedHosts {
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
    throw new InvalidOptionError(name, `expected a non-empty array of host patterns such as ['app.example.com', '.example.com', 'localhost:3000'], got ${JSON.stringify(option)}`);
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
        (p) => p.any || ((host === p.host || (p.subdomains && host.endsWith(`.${p.host}`))) && (p.port === undefined || p.port === port)),
      );
    },
  };
}
