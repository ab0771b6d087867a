import type { Type } from '@nestjs/common';
import type { TaskContext, TaskMiddleware } from '@taskq/core';

/**
 * Per-task middleware as an injectable class: register the class as a
 * provider (or let the module create it) and list it in `worker.middleware`.
 * It wraps every task execution, like `worker.use()` in @taskq/core.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class TaskLogging implements TaskqMiddleware {
 *   constructor(private readonly log: AppLogger) {}
 *   async use(ctx: TaskContext, next: () => Promise<void>) {
 *     this.log.info(`start ${ctx.name}`);
 *     await next();
 *   }
 * }
 * ```
 */
export interface TaskqMiddleware {
  use(ctx: TaskContext, next: () => Promise<void>): Promise<void>;
}

/** An entry of `worker.middleware`: a plain `(ctx, next)` function or an injectable {@link TaskqMiddleware} class. */
export type TaskqMiddlewareEntry = TaskMiddleware | Type<TaskqMiddleware>;

/** @internal Tells an injectable class from a plain middleware function. */
export function isMiddlewareClass(entry: TaskqMiddlewareEntry): entry is Type<TaskqMiddleware> {
  return (
    typeof entry === 'function' && typeof (entry as { prototype?: { use?: unknown } }).prototype?.use === 'function'
  );
}
