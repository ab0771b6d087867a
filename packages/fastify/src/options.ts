import { consoleLogger, InvalidOptionError, type Logger, type TaskQueue } from '@taskq/core';
import type { RequestTransactionFactory } from './transaction.js';

/** A status route registered by the plugin. */
export interface StatusRouteOptions {
  /** Route path with an `:id` parameter, under the plugin's prefix. @defaultValue `'/tasks/:id'` */
  readonly path?: string;
  /** Also answer the task's name, queue and error stacks (see `taskStatusHandler`). @defaultValue `false` */
  readonly internals?: boolean;
}

/** Options of {@link taskqPlugin}. */
export interface TaskqPluginOptions {
  /** The application's queue (`createQueue(...)`): `fastify.taskQueue`, and per request `request.taskQueue`. */
  readonly queue: TaskQueue;
  /**
   * Named routes for `request.routeUrl(name, params)` and for tasks that take
   * the request, relative to the plugin's prefix: `{ news: '/news/:slug' }`.
   * @defaultValue `{}`
   */
  readonly routes?: Readonly<Record<string, string>>;
  /**
   * Opens a transaction per request whose unit of work the request's submits
   * join, e.g. `(queue) => openRequestTransaction(dataSource, queue)` from
   * `@taskq/typeorm`. Return `undefined` to give a request (say, a `GET`) a
   * plain unit of work only.
   * @defaultValue a plain unit of work (`queue.begin()`) for every request
   */
  readonly transaction?: RequestTransactionFactory;
  /**
   * Whether a reply with this status drops the request's tasks (and rolls its
   * transaction back). A request whose handler or hook threw is dropped
   * whatever its status.
   * @defaultValue `(status) => status >= 500`
   */
  readonly rollbackOn?: (status: number) => boolean;
  /**
   * Path prefix for the URLs the request builds, instead of the prefix the
   * plugin is registered under: set it when a proxy strips a prefix.
   */
  readonly basePath?: string;
  /**
   * Registers `GET <path>` answering task status (`true` for `'/tasks/:id'`);
   * `accepted()` then points Location at it.
   * @defaultValue `false`
   */
  readonly statusRoute?: boolean | string | StatusRouteOptions;
  /**
   * Close the queue on `fastify.close()` (after in-flight requests committed).
   * Set `false` when the queue outlives the server (shared with a worker or another app).
   * @defaultValue `true`
   */
  readonly closeQueue?: boolean;
  /** Where failed commits are reported. @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

/** @internal Options after validation. */
export interface ResolvedOptions {
  readonly queue: TaskQueue;
  readonly routes: Readonly<Record<string, string>>;
  readonly transaction: RequestTransactionFactory | undefined;
  readonly rollbackOn: (status: number) => boolean;
  readonly basePath: string | undefined;
  readonly statusRoute: { readonly path: string; readonly internals: boolean } | undefined;
  readonly closeQueue: boolean;
  readonly logger: Logger;
}

const serverError = (status: number): boolean => status >= 500;

/** @internal Validates once, at registration, naming the bad option. */
export function resolveOptions(options: TaskqPluginOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object such as { queue }');
  const { queue } = options;
  if (typeof queue?.submit !== 'function' || typeof queue.begin !== 'function') {
    throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue(...)');
  }
  if (options.transaction !== undefined && typeof options.transaction !== 'function') {
    throw new InvalidOptionError('transaction', 'expected a function (queue, request) => RequestTransaction, e.g. (queue) => openRequestTransaction(dataSource, queue)');
  }
  if (options.rollbackOn !== undefined && typeof options.rollbackOn !== 'function') {
    throw new InvalidOptionError('rollbackOn', 'expected a function (status: number) => boolean');
  }
  if (options.closeQueue !== undefined && typeof options.closeQueue !== 'boolean') {
    throw new InvalidOptionError('closeQueue', `expected true or false, got ${JSON.stringify(options.closeQueue)}`);
  }
  if (options.logger !== undefined && typeof options.logger?.error !== 'function') {
    throw new InvalidOptionError('logger', 'expected a Logger with debug, info, warn and error methods');
  }
  return {
    queue,
    routes: checkRoutes(options.routes),
    transaction: options.transaction,
    rollbackOn: options.rollbackOn ?? serverError,
    basePath: checkBasePath(options.basePath),
    statusRoute: checkStatusRoute(options.statusRoute, queue),
    closeQueue: options.closeQueue ?? true,
    logger: options.logger ?? consoleLogger(),
  };
}

function checkRoutes(routes: unknown): Readonly<Record<string, string>> {
  if (routes === undefined) return Object.freeze({});
  if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) {
    throw new InvalidOptionError('routes', "expected an object of named routes, e.g. { news: '/news/:slug' }");
  }
  const checked: Record<string, string> = {};
  for (const [name, pattern] of Object.entries(routes)) {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      throw new InvalidOptionError(`routes.${name}`, `expected a path starting with '/', got ${JSON.stringify(pattern)}`);
    }
    checked[name] = pattern;
  }
  return Object.freeze(checked);
}

function checkBasePath(basePath: unknown): string | undefined {
  if (basePath === undefined) return undefined;
  if (typeof basePath !== 'string' || (basePath !== '' && !basePath.startsWith('/'))) {
    throw new InvalidOptionError('basePath', `expected '' or a path starting with '/', got ${JSON.stringify(basePath)}`);
  }
  return basePath.replace(/\/+$/, '');
}

function checkStatusRoute(option: unknown, queue: TaskQueue): ResolvedOptions['statusRoute'] {
  if (option === undefined || option === false) return undefined;
  const spec: StatusRouteOptions = option === true ? {} : typeof option === 'string' ? { path: option } : (option as StatusRouteOptions);
  if (typeof spec !== 'object' || spec === null) throw new InvalidOptionError('statusRoute', 'expected true, a path or { path, internals }');
  const path = spec.path ?? '/tasks/:id';
  if (typeof path !== 'string' || !path.startsWith('/') || !/:id(\/|$)/.test(path)) {
    throw new InvalidOptionError('statusRoute.path', `expected a path starting with '/' with an :id parameter, got ${JSON.stringify(path)}`);
  }
  if (spec.internals !== undefined && typeof spec.internals !== 'boolean') throw new InvalidOptionError('statusRoute.internals', 'expected true or false');
  if (!queue.store) throw new InvalidOptionError('statusRoute', 'the status route needs a queue with a result store: createQueue({ store })');
  return { path, internals: spec.internals ?? false };
}
