import { applyDecorators, HttpCode, SetMetadata } from '@nestjs/common';
import { type AcceptedOptions, checkAcceptedOptions } from '@taskq/http';

/** @internal */
export const ACCEPTED_METADATA = 'taskq:accepted';

/**
 * Makes a handler that returns a submitted task (a `TaskHandle`, or anything
 * with a string `id`) answer `202 Accepted` with `Location` pointing at the
 * task's status route (`statusPath`, below the global prefix; by default
 * the module's `statusRoute` + `/:id`, else `'/tasks/:id'`), optionally
 * `Retry-After` (`retryAfter` seconds), and the body `{ task: id }`. The
 * unit-of-work interceptor sends it after the request's tasks were
 * committed, so the status route knows the id by the time the client reads it.
 *
 * @example
 * ```ts
 * @Post('reports') @Accepted()
 * createReport(@Body() body: ReportRequest) { return this.queue.submit(this.reports.render, body); }
 * ```
 */
export function Accepted(options: AcceptedOptions = {}): MethodDecorator {
  return applyDecorators(HttpCode(202), SetMetadata(ACCEPTED_METADATA, checkAcceptedOptions(options)));
}
