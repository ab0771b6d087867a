import type { TaskState, TaskStatus } from '@taskq/core';

/**
 * A task's status as the status route answers it. The same shape as
 * @taskq/express's `PublicTaskStatus` (public fields only), which does not
 * export its builder; see the report on moving it to @taskq/core.
 */
export interface PublicTaskStatus {
  readonly id: string;
  readonly state: TaskState;
  readonly attempts: number;
  readonly result?: unknown;
  readonly error?: { readonly message: string; readonly code?: string };
  readonly enqueuedAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

/** Task ids are UUIDs; anything else is unknown without asking the store (a SQL store may reject a malformed uuid). */
export const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function publicStatus(status: TaskStatus): PublicTaskStatus {
  return {
    id: status.id,
    state: status.state,
    attempts: status.attempts,
    ...(status.state === 'succeeded' ? { result: status.result } : {}),
    ...(status.error ? { error: { message: status.error.message, ...(status.error.code === undefined ? {} : { code: status.error.code }) } } : {}),
    enqueuedAt: status.enqueuedAt.toISOString(),
    ...(status.startedAt ? { startedAt: status.startedAt.toISOString() } : {}),
    ...(status.finishedAt ? { finishedAt: status.finishedAt.toISOString() } : {}),
  };
}
