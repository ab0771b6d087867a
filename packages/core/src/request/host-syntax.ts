import { isIPv4, isIPv6 } from 'node:net';

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
