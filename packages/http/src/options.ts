import { useLogger } from '@taskq/core/adapter';
import { InvalidOptionError, type Logger, type TaskQueue } from '@taskq/core';
import { type AllowedHosts, resolveAllowedHosts } from './host-check.js';
import type { RequestUnitOfWorkFactory } from './request-scope.js';

/** Options every HTTP adapter takes (Express middleware, Fastify plugin; Nest's `http` options follow them). */
export interface HttpAdapterOptions<Request> {
  /** The application's queue (`createQueue(...)`); each request gets a view of it bound to its unit of work. */
  readonly queue: TaskQueue;
  /**
   * Named routes for `routeUrl(name, params)` and for tasks that take the
   * request, relative to where the adapter is mounted: `{ news: '/news/:slug' }`.
   * @defaultValue `{}`
   */
  readonly routes?: Readonly<Record<string, string>>;
  /**
   * Opens each request's unit of work, which the request's submits join,
   * e.g. `(queue) => databaseUnitOfWork(dataSource, queue)` from
   * `@taskq/typeorm` (it also opens a database transaction). Return
   * `undefined` to give a request (say, a `GET`) a plain unit of work only.
   * @defaultValue a plain unit of work (`queue.begin()`) for every request
   */
  readonly unitOfWork?: RequestUnitOfWorkFactory<Request>;
  /**
   * Whether a response with this status drops the request's tasks (and
   * rolls back its database transaction, if any). A request whose handler
   * threw is dropped whatever its status.
   * @defaultValue `(status) => status >= 500`
   */
  readonly rollbackOn?: (status: number) => boolean;
  /**
   * Path prefix for the URLs the request builds, instead of the path the
   * adapter is mounted at: set it when a proxy strips a prefix.
   */
  readonly basePath?: string;
  /** Where failed commits are reported. @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
  /**
   * The hosts this app is served under, checked on every request before the
   * route runs (the Host header, or X-Forwarded-Host when the framework
   * trusts the proxy): anything else is refused with 400
   * `TASKQ_BAD_REQUEST_HOST`, so links, `Location` headers and tasks never
   * name a host the client made up. Patterns as Django's ALLOWED_HOSTS:
   * `'app.example.com'` (any port), `'.example.com'` (the domain and its
   * subdomains), `'localhost:3000'` (that port only), `'*'` (any valid host:
   * only when a proxy in front already refuses unknown hosts).
   * @defaultValue `['.localhost', '127.0.0.1', '[::1]']`; required when `NODE_ENV` is `'production'`
   */
  readonly allowedHosts?: readonly string[];
}

/** {@link HttpAdapterOptions} after validation. */
export interface ResolvedHttpAdapterOptions<Request> {
  readonly queue: TaskQueue;
  readonly routes: Readonly<Record<string, string>>;
  readonly unitOfWork: RequestUnitOfWorkFactory<Request> | undefined;
  readonly rollbackOn: (status: number) => boolean;
  readonly basePath: string | undefined;
  readonly logger: Logger;
  readonly allowedHosts: AllowedHosts;
}

const serverError = (status: number): boolean => status >= 500;

/** Validates the common adapter options once, naming the bad option. */
export function resolveHttpAdapterOptions<Request>(
  options: HttpAdapterOptions<Request>,
): ResolvedHttpAdapterOptions<Request> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected an object such as { queue }');
  const { queue } = options;
  if (typeof queue?.submit !== 'function' || typeof queue.begin !== 'function') {
    throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue(...)');
  }
  const scope = checkScopeOptions(options);
  return {
    queue,
    routes: checkRoutes(options.routes),
    ...scope,
    basePath: checkBasePath(options.basePath),
    logger: useLogger(options.logger),
    allowedHosts: resolveAllowedHosts(options.allowedHosts),
  };
}

/**
 * The queue-independent half of the per-request unit of work's options
 * (`unitOfWork`, `rollbackOn`), for adapters whose queue exists only later
 * (NestJS's module options); `prefix` places the options, e.g. `'http.'`.
 */
export function checkScopeOptions<Request>(
  options: Pick<HttpAdapterOptions<Request>, 'unitOfWork' | 'rollbackOn'>,
  prefix = '',
): Pick<ResolvedHttpAdapterOptions<Request>, 'unitOfWork' | 'rollbackOn'> {
  const { unitOfWork, rollbackOn } = options;
  if (unitOfWork !== undefined && typeof unitOfWork !== 'function') {
    throw new InvalidOptionError(
      `${prefix}unitOfWork`,
      'expected a function (queue, request) => RequestUnitOfWork, e.g. (queue) => databaseUnitOfWork(dataSource, queue)',
    );
  }
  if (rollbackOn !== undefined && typeof rollbackOn !== 'function') {
    throw new InvalidOptionError(`${prefix}rollbackOn`, 'expected a function (status: number) => boolean');
  }
  return { unitOfWork, rollbackOn: rollbackOn ?? serverError };
}

/** Named route patterns are paths starting with '/'. */
export function checkRoutes(routes: unknown, option = 'routes'): Readonly<Record<string, string>> {
  if (routes === undefined) return Object.freeze({});
  if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) {
    throw new InvalidOptionError(option, "expected an object of named routes, e.g. { news: '/news/:slug' }");
  }
  const checked: Record<string, string> = {};
  for (const [name, pattern] of Object.entries(routes)) {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      throw new InvalidOptionError(
        `${option}.${name}`,
        `expected a path starting with '/', got ${JSON.stringify(pattern)}`,
      );
    }
    checked[name] = pattern;
  }
  return Object.freeze(checked);
}

function checkBasePath(basePath: unknown): string | undefined {
  if (basePath === undefined) return undefined;
  if (typeof basePath !== 'string' || (basePath !== '' && !basePath.startsWith('/'))) {
    throw new InvalidOptionError(
      'basePath',
      `expected '' or a path starting with '/', got ${JSON.stringify(basePath)}`,
    );
  }
  return basePath.replace(/\/+$/, '');
}
