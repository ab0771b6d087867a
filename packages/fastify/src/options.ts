import { type HttpAdapterOptions, InvalidOptionError, type ResolvedHttpAdapterOptions, resolveHttpAdapterOptions, type TaskQueue } from '@taskq/core';
import type { FastifyRequest } from 'fastify';

/** A status route registered by the plugin. */
export interface StatusRouteOptions {
  /** Route path with an `:id` parameter, under the plugin's prefix. @defaultValue `'/tasks/:id'` */
  readonly path?: string;
  /** Also answer the task's name, queue and error stacks (see `taskStatusHandler`). @defaultValue `false` */
  readonly internals?: boolean;
}

/** Options of {@link taskqPlugin}: the common adapter options plus the status route and queue closing. */
export interface TaskqPluginOptions extends HttpAdapterOptions<FastifyRequest> {
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
}

/** @internal Options after validation. */
export interface ResolvedOptions extends ResolvedHttpAdapterOptions<FastifyRequest> {
  readonly statusRoute: { readonly path: string; readonly internals: boolean } | undefined;
  readonly closeQueue: boolean;
}

/** @internal Validates once, at registration, naming the bad option. */
export function resolveOptions(options: TaskqPluginOptions): ResolvedOptions {
  const common = resolveHttpAdapterOptions(options);
  if (options.closeQueue !== undefined && typeof options.closeQueue !== 'boolean') {
    throw new InvalidOptionError('closeQueue', `expected true or false, got ${JSON.stringify(options.closeQueue)}`);
  }
  return { ...common, statusRoute: checkStatusRoute(options.statusRoute, common.queue), closeQueue: options.closeQueue ?? true };
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
