import type { TaskState, TaskStatus } from '@taskq/core';

/** A task's status as the status route answers it: what a client needs, nothing about the deployment. */
export interface PublicTaskStatus {
  readonly id: string;
  readonly state: TaskState;
  /** Attempts started so far. */
  readonly attempts: number;
  /** The task's return value, once `state` is `succeeded`. */
  readonly result?: unknown;
  /**
   * Why the last attempt failed (`retrying` or `dead`): its `code` and `name`
   * (the error's class); `message` only for an error marked public
   * (`expose = true`), with `exposeErrors` or with `internals`; `stack` only
   * with `internals`.
   */
  readonly error?: {
    readonly code?: string;
    readonly name?: string;
    readonly message?: string;
    readonly stack?: string;
  };
  readonly enqueuedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** The task's latest `currentTask().progress(value)`: a number 0-100 or a JSON object. */
  readonly progress?: unknown;
  /** Registry id of the task (only with `internals`). */
  readonly name?: string;
  /** Logical queue (only with `internals`). */
  readonly queue?: string;
}

/** What of a status {@link publicStatus} shows besides the public fields. */
export interface PublicStatusOptions {
  /**
   * Also the task's name and queue, and the error's message and stack: for operators' routes only. @defaultValue
   * `false`
   */
  readonly internals?: boolean;
  /**
   * Show every failed task's error message, not only those of errors marked
   * public. Messages often carry what the client must not see (a database
   * URL, a row of someone else's data), so leave it off unless every task's
   * messages are written for the client.
   * @defaultValue `false`
   */
  readonly exposeErrors?: boolean;
}

/**
 * Task ids are UUIDs: a route can answer 404 for anything else without asking the store (a SQL store may reject a
 * malformed uuid with an error).
 */
export const TASK_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The status JSON the HTTP adapters answer with: public fields only. A failed
 * task's error shows its code and class name; its message only when the
 * error was marked public or `exposeErrors` is on; name, queue and stack
 * only with `internals`.
 */
export function publicStatus(status: TaskStatus, options: PublicStatusOptions = {}): PublicTaskStatus {
  const { internals = false, exposeErrors = false } = options;
  const stored = status.error;
  const error = stored && {
    ...(stored.code === undefined ? {} : { code: stored.code }),
    ...(stored.name === undefined ? {} : { name: stored.name }),
    ...(internals || exposeErrors || stored.expose === true ? { message: stored.message } : {}),
    ...(internals && stored.stack !== undefined ? { stack: stored.stack } : {}),
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
    ...(status.progress === undefined ? {} : { progress: status.progress }),
    ...(internals ? { name: status.name, queue: status.queue } : {}),
  };
}
