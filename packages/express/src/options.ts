import { type HttpAdapterOptions, type ResolvedHttpAdapterOptions, resolveHttpAdapterOptions } from '@taskq/core';
import type { Request } from 'express';

/**
 * Options of {@link taskq}: the queue (`req.taskQueue` is a per-request view
 * of it), named `routes` for `req.routeUrl()`, a per-request `transaction`
 * factory, `rollbackOn` (a request that reached `taskqErrors()` is dropped
 * whatever its status), `basePath` (instead of `req.baseUrl`) and `logger`.
 */
export type TaskqOptions = HttpAdapterOptions<Request>;

/** @internal Options after validation. */
export type ResolvedOptions = ResolvedHttpAdapterOptions<Request>;

/** @internal Validates once, at `taskq()`, naming the bad option. */
export function resolveOptions(options: TaskqOptions): ResolvedOptions {
  return resolveHttpAdapterOptions(options);
}
