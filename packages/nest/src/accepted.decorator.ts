import { applyDecorators, HttpCode, SetMetadata } from '@nestjs/common';
import { InvalidOptionError } from '@taskq/core';

/** Options of {@link Accepted}. */
export interface AcceptedOptions {
  /**
   * The status route, `:id` standing for the task id, below the global prefix.
   * @defaultValue the module's `statusRoute` + `/:id`, else `'/tasks/:id'`
   */
  readonly statusPath?: string;
  /** Seconds the client should wait before asking (the `Retry-After` header). */
  readonly retryAfter?: number;
}

/** @internal */
export const ACCEPTED_METADATA = 'taskq:accepted';

/**
 * Makes a handler that returns a submitted task (a `TaskHandle`, or anything
 * with a string `id`) answer `202 Accepted` with `Location` pointing at the
 * task's status route and the body `{ task: id }`. The unit-of-work
 * interceptor sends it after the request's tasks were committed, so the
 * status route knows the id by the time the client reads it.
 *
 * @example
 * ```ts
 * @Post('reports') @Accepted()
 * createReport(@Body() body: ReportRequest) { return this.queue.submit(this.reports.render, body); }
 * ```
 */
export function Accepted(options: AcceptedOptions = {}): MethodDecorator {
  const { statusPath, retryAfter } = options;
  if (statusPath !== undefined && (typeof statusPath !== 'string' || !statusPath.startsWith('/') || !statusPath.includes(':id'))) {
    throw new InvalidOptionError('statusPath', `expected a path starting with '/' that contains ':id', got ${JSON.stringify(statusPath)}`);
  }
  if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new InvalidOptionError('retryAfter', `expected a whole number of seconds, got ${retryAfter}`);
  }
  return applyDecorators(HttpCode(202), SetMetadata(ACCEPTED_METADATA, options));
}
