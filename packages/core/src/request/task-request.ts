import { InvalidOptionError, TaskqError } from '../errors.js';
import { isValidHost } from './host-syntax.js';

/** Headers a request may carry into a task: nothing that authenticates or identifies a session. */
export const TRAVELLING_HEADERS = ['accept-language', 'user-agent'] as const;
export type TravellingHeader = (typeof TRAVELLING_HEADERS)[number];

/**
 * What of a web request travels to a task: enough to build URLs the way the
 * handler would, and nothing else (no cookies, Authorization, body or socket).
 */
export interface RequestUrlContext {
  readonly protocol: 'http' | 'https';
  /** Host name without port. */
  readonly host: string;
  /** Omitted for the protocol's default port. */
  readonly port?: number;
  /** Where the app is mounted, e.g. `/api` ('' at the root). */
  readonly basePath: string;
  /** Named routes, e.g. `{ news: '/news/:slug' }`, relative to `basePath`. */
  readonly routes: Readonly<Record<string, string>>;
  readonly headers: Readonly<Partial<Record<TravellingHeader, string>>>;
}

/** URL helpers shared by the live request (through an adapter) and the rebuilt {@link TaskRequest}. */
export interface UrlHelpers {
  /** `path` (from the app's base path) as an absolute URL: `absoluteUrl('/users/1')`. */
  absoluteUrl(path: string): string;
  /** A named route with its parameters filled in; extra parameters become the query string. */
  routeUrl(name: string, params?: Readonly<Record<string, string | number>>): string;
}

/** Raised when a named route is unknown or a parameter is missing. */
export class RouteError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_ROUTE', message);
  }
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/** Validates a context decoded from the wire (it crossed a process boundary and may be hostile). */
export function checkRequestContext(data: unknown): RequestUrlContext {
  const fail = (what: string): never => {
    throw new InvalidOptionError('request', `malformed request context: ${what}`);
  };
  if (typeof data !== 'object' || data === null) return fail('not an object');
  const d = data as Record<string, unknown>;
  if (d.protocol !== 'http' && d.protocol !== 'https') fail('protocol');
  // The same host syntax the adapters accept: a host smuggling a path or a second port must not become a link in the
  // worker.
  if (typeof d.host !== 'string' || !isValidHost(d.host)) fail('host');
  if (d.port !== undefined && !(Number.isInteger(d.port) && (d.port as number) > 0 && (d.port as number) < 65_536))
    fail('port');
  if (typeof d.basePath !== 'string' || (d.basePath !== '' && !d.basePath.startsWith('/'))) fail('basePath');
  if (typeof d.routes !== 'object' || d.routes === null) fail('routes');
  const routes: Record<string, string> = {};
  for (const [name, pattern] of Object.entries(d.routes as Record<string, unknown>)) {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) fail(`route ${name}`);
    routes[name] = pattern as string;
  }
  const headers: Partial<Record<TravellingHeader, string>> = {};
  if (typeof d.headers === 'object' && d.headers !== null) {
    for (const name of TRAVELLING_HEADERS) {
      const value = (d.headers as Record<string, unknown>)[name];
      if (typeof value === 'string') headers[name] = value;
    }
  }
  return {
    protocol: d.protocol as 'http' | 'https',
    host: d.host as string,
    port: d.port as number | undefined,
    basePath: d.basePath as string,
    routes,
    headers,
  };
}

/**
 * A web request as a task sees it: rebuilt in the worker from its URL
 * context, with the same `absoluteUrl`/`routeUrl` helpers the live request
 * has in the handler, so a task builds the same links either way.
 */
export class TaskRequest implements UrlHelpers {
  readonly protocol: 'http' | 'https';
  readonly host: string;
  readonly port: number | undefined;
  readonly basePath: string;
  readonly routes: Readonly<Record<string, string>>;
  readonly headers: Readonly<Partial<Record<TravellingHeader, string>>>;

  constructor(context: RequestUrlContext) {
    this.protocol = context.protocol;
    this.host = context.host;
    this.port = context.port === DEFAULT_PORT[context.protocol] ? undefined : context.port;
    this.basePath = context.basePath.replace(/\/+$/, '');
    this.routes = context.routes;
    this.headers = context.headers;
  }

  /** `https://example.com:8443` (port only when not the default). */
  get origin(): string {
    const host = this.host.includes(':') && !this.host.startsWith('[') ? `[${this.host}]` : this.host;
    return `${this.protocol}://${host}${this.port === undefined ? '' : `:${this.port}`}`;
  }

  absoluteUrl(path: string): string {
    if (typeof path !== 'string') throw new RouteError('absoluteUrl(path) needs a string path');
    if (/^[a-z][a-z0-9+.-]*:/i.test(path)) return path; // already absolute
    return `${this.origin}${this.basePath}${path.startsWith('/') ? path : `/${path}`}`;
  }

  routeUrl(name: string, params: Readonly<Record<string, string | number>> = {}): string {
    const pattern = this.routes[name];
    if (pattern === undefined) {
      throw new RouteError(
        `no route named "${name}"; known routes: ${Object.keys(this.routes).join(', ') || 'none (pass routes to the adapter)'}`,
      );
    }
    const used = new Set<string>();
    const path = pattern.replace(
      /(\/?):([A-Za-z_][A-Za-z0-9_]*)(\?)?/g,
      (_match, slash: string, key: string, optional: string | undefined) => {
        const value = params[key];
        if (value === undefined) {
          if (optional) return ''; // an omitted optional segment takes its slash with it
          throw new RouteError(`route "${name}" (${pattern}) needs parameter "${key}"`);
        }
        used.add(key);
        return `${slash}${encodeURIComponent(String(value))}`;
      },
    );
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (!used.has(key)) query.append(key, String(value));
    const search = query.toString();
    return this.absoluteUrl(`${path.replace(/\/{2,}/g, '/')}${search ? `?${search}` : ''}`);
  }

  /** The URL context, as it travels. */
  toContext(): RequestUrlContext {
    const context: RequestUrlContext = {
      protocol: this.protocol,
      host: this.host,
      basePath: this.basePath,
      routes: this.routes,
      headers: this.headers,
    };
    return this.port === undefined ? context : { ...context, port: this.port };
  }
}
