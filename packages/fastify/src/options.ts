import { InvalidOptionError, type TaskQueue } from '@taskq/core';
import {
  type HttpAdapterOptions,
  type ResolvedHttpAdapterOptions,
  type ResolvedStatusRoute,
  resolveHttpAdapterOptions,
  resolveStatusRoute,
  type StatusRouteOptions as SharedStatusRouteOptions,
} from '@taskq/http';
import type { FastifyRequest } from 'fastify';

/**
 * A status route registered by the plugin: its path, plus `authorize(request,
 * status)`, `exposeErrors` and `internals` (the same on every adapter).
 */
export interface StatusRouteOptions extends SharedStatusRouteOptions<FastifyRequest> {
  /** Route path with an `:id` parameter, under the plugin's prefix. @defaultValue `'/tasks/:id'` */
  readonly path?: string;
}

/** Options of {@link taskqPlugin}: the common adapter options plus the status route and queue closing. */
export interface TaskqPluginOptions extends HttpAdapterOptions<FastifyRequest> {
  /**
   * Registers `GET <path>` answering task status (`true` for `'/tasks/:id'`);
   * `accepted()` then points Location at it. Give `authorize` unless the
   * task id may act as a bearer token (whoever has it reads the status).
   * @defaultValue `false`
   */
  readonly statusRoute?: boolean | string | StatusRouteOptions;
  /**
   * Also close the queue on `fastify.close()` (after in-flight requests
   * committed). Off by default: the queue was given to the plugin, and
   * whoever created it may still use it (a worker, another app), as
   * @fastify/redis leaves a given client open unless `closeClient` is set.
   * @defaultValue `false`
   */
  readonly closeQueue?: boolean;
}

/** @internal Options after validation. */
export interface ResolvedOptions extends ResolvedHttpAdapterOptions<FastifyRequest> {
  readonly statusRoute: (ResolvedStatusRoute<FastifyRequest> & { readonly path: string }) | undefined;
  readonly closeQueue: boolean;
}

/** @internal Validates once, at registration, naming the bad option. */
export function resolveOptions(options: TaskqPluginOptions): ResolvedOptions {
  const common = resolveHttpAdapterOptions(options);
  if (options.closeQueue !== undefined && typeof options.closeQueue !== 'boolean') {
    throw new InvalidOptionError('closeQueue', `expected true or false, got ${JSON.stringify(options.closeQueue)}`);
  }
  return {
    ...common,
    statusRoute: checkStatusRoute(options.statusRoute, common.queue),
    closeQueue: options.closeQueue ?? false,
  };
}

function checkStatusRoute(option: unknown, queue: TaskQueue): ResolvedOptions['statusRoute'] {
  if (option === undefined || option === false) return undefined;
  const spec: StatusRouteOptions =
    option === true ? {} : typeof option === 'string' ? { path: option } : (option as StatusRouteOptions);
  if (typeof spec !== 'object' || spec === null)
    throw new InvalidOptionError(
      'statusRoute',
      'expected true, a path or { path, authorize, exposeErrors, internals }',
    );
  const path = spec.path ?? '/tasks/:id';
  if (typeof path !== 'string' || !path.startsWith('/') || !/:id(\/|$)/.test(path)) {
    throw new InvalidOptionError(
      'statusRoute.path',
      `expected a path starting with '/' with an :id parameter, got ${JSON.stringify(path)}`,
    );
  }
  if (!queue.store)
    throw new InvalidOptionError(
      'statusRoute',
      'the status route needs a queue with a result store: createQueue({ store })',
    );
  return { ...resolveStatusRoute(queue, spec, 'statusRoute.'), path };
}
