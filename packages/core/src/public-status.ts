import type { TaskState, TaskStatus } from './result-store.js';

/** A task's status as the status route answers it: what a client needs, nothing about the deployment. */
export interface PublicTaskStatus {
  readonly id: string;
  readonly state: TaskState;
  /** Attempts started so far. */
  readonly attempts: number;
  /** The task's return value, once `state` is `succeeded`. */
  readonly result?: unknown;
  /** Why the last attempt failed (`retrying` or `dead`). */
  readonly error?: { readonly message: string; readonly code?: string; readonly name?: string; readonly stack?: string };
  readonly enqueuedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** Registry id of the task (only with `internals`). */
  readonly name?: string;
  /** Logical queue (only with `internals`). */
  readonly queue?: string;
}

/** Task ids are UUIDs: a route can answer 404 for anything else without asking the store (a SQL store may reject a malformed uuid with an error). */
export const TASK_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The status JSON the HTTP adapters answer with: public fields only, unless
 * `internals` (task name, queue, error name and stack) is asked for.
 */
export function publicStatus(status: TaskStatus, internals = false): PublicTaskStatus {
  const error = status.error && {
    message: status.error.message,
    ...(status.error.code === undefined ? {} : { code: status.error.code }),
    ...(internals && status.error.name !== undefined ? { name: status.error.name } : {}),
    ...(internals && status.error.stack !== undefined ? { stack: status.error.stack } : {}),
  };
  return {
    id: status.id,
    state: status.state,
    attempts: status.attempts,
    ...(status.state === 'succeeded' ? { result: status.result } : {}),
    ...(error ? { error } : {}),
    enqueuedAt: status.enqueuedAt.toISOString(),
    ...(status.startedAt ? { startedAt: status.startedAt.toISOString() } : {}),
    ...(status.finishedAt ? { finishedAt: status.finishedAt.toISOString() } : {}),
    ...(internals ? { name: status.name, queue: status.queue } : {}),
  };
}
