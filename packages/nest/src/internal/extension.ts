import type { TaskMiddleware, TaskQueue } from '@taskq/core';
import type { RequestUnitOfWorkFactory } from '@taskq/http';

/**
 * @internal What an integration module (`TaskqTypeormModule`) adds to the module's runtime: the request unit of work
 * and per-task middleware. It provides one under {@link TASKQ_EXTENSION}; the runtime finds it when the application
 * initialises, so the integration needs no option of `TaskqModule.forRoot()`.
 */
export interface TaskqExtension {
  /** Names the module in error messages. */
  readonly name: string;
  /** The request unit of work, when the application gave no `http.unitOfWork`. */
  requestUnitOfWork?(queue: TaskQueue): RequestUnitOfWorkFactory | undefined;
  /** Per-task middleware, outside the application's own `worker.middleware`. */
  taskMiddleware?(queue: TaskQueue): TaskMiddleware | undefined;
}

/** @internal The token an integration module provides its {@link TaskqExtension} under. */
export const TASKQ_EXTENSION = 'TaskqExtension';
