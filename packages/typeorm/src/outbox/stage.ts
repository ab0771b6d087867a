import type { TaskQueue } from '@taskq/core';
import { type EnqueuedRecord, lazyArgs, type PreparedTask, type StageTasks } from '@taskq/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { OutboxEntity } from '../entities.js';
import { type Dialect, execute, placeholders, tableOf } from '../internal/dialect.js';
import { SqlResultStore } from '../result-store.js';

/** Tasks staged into one transaction's outbox, to publish once it commits. */
export interface PendingBatch {
  readonly queue: TaskQueue;
  readonly ids: string[];
}

// Keyed by the QueryRunner, which is the transaction: whoever sees that
// runner commit (our helpers, or the afterTransactionCommit subscriber)
// takes the ids and publishes them.
const pending = new WeakMap<QueryRunner, PendingBatch[]>();

const ROWS_PER_INSERT = 100;

/**
 * A unit-of-work stage that INSERTs each submitted task into the outbox
 * through `manager` (so it commits or rolls back with the caller's writes),
 * writes its `queued` status row in the same transaction when the queue's
 * store is the SQL store of this DataSource, and remembers the ids for the
 * publish after commit.
 */
export function outboxStage(
  dataSource: DataSource,
  dialect: Dialect,
  manager: EntityManager,
  runner: QueryRunner,
  queue: TaskQueue,
  staged?: string[],
): StageTasks {
  return async (tasks: readonly PreparedTask[]): Promise<void> => {
    if (tasks.length === 0) return;
    await insertOutboxRows(dataSource, dialect, manager, tasks);
    const store = queue.store;
    if (store instanceof SqlResultStore && store.dataSource === dataSource) {
      const enqueuedAt = new Date();
      const records: EnqueuedRecord[] = tasks.map((t) => ({
        id: t.handle.id,
        name: t.handle.name,
        queue: t.handle.queue,
        enqueuedAt,
        args: lazyArgs(t.message.body),
      }));
      await store.recordEnqueued(manager, records);
    }
    const ids = tasks.map((t) => t.handle.id);
    staged?.push(...ids);
    addPending(runner, queue, ids);
  };
}

async function insertOutboxRows(
  dataSource: DataSource,
  dialect: Dialect,
  manager: EntityManager,
  tasks: readonly PreparedTask[],
): Promise<void> {
  const table = tableOf(dataSource, OutboxEntity);
  const now = Date.now();
  for (let start = 0; start < tasks.length; start += ROWS_PER_INSERT) {
    const chunk = tasks.slice(start, start + ROWS_PER_INSERT);
    const params: unknown[] = [];
    for (const { handle, message } of chunk) {
      // The delay counts from submit: the relay publishes with what is left of it.
      params.push(
        message.id,
        message.queue,
        handle.name,
        message.body.toString('utf8'),
        JSON.stringify(message.headers),
        message.priority ?? null,
        now + (message.delayMs ?? 0),
        now,
      );
    }
    const values = chunk.map(() => `(${placeholders(8)})`).join(', ');
    await execute(
      dialect,
      manager,
      `INSERT INTO ${table} ("id", "queue", "task", "body", "headers", "priority", "available_at", "created_at") VALUES ${values}`,
      params,
    );
  }
}

function addPending(runner: QueryRunner, queue: TaskQueue, ids: readonly string[]): void {
  let batches = pending.get(runner);
  if (!batches) {
    batches = [];
    pending.set(runner, batches);
  }
  let batch = batches.find((b) => b.queue === queue);
  if (!batch) {
    batch = { queue, ids: [] };
    batches.push(batch);
  }
  batch.ids.push(...ids);
}

/** Takes (and forgets) what was staged into `runner`'s transaction. */
export function takePending(runner: QueryRunner): PendingBatch[] | undefined {
  const batches = pending.get(runner);
  pending.delete(runner);
  return batches && batches.length > 0 ? batches : undefined;
}

/** Forgets some staged ids (their rows were deleted), or all of them. */
export function dropPending(runner: QueryRunner, ids?: readonly string[]): void {
  if (!ids) {
    pending.delete(runner);
    return;
  }
  const drop = new Set(ids);
  for (const batch of pending.get(runner) ?? []) {
    const kept = batch.ids.filter((id) => !drop.has(id));
    batch.ids.splice(0, batch.ids.length, ...kept);
  }
}

/**
 * Deletes staged outbox rows (and their status rows) inside the still-open transaction: the code that submitted them
 * threw.
 */
export async function unstage(
  dataSource: DataSource,
  dialect: Dialect,
  manager: EntityManager,
  runner: QueryRunner,
  queue: TaskQueue,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  const table = tableOf(dataSource, OutboxEntity);
  for (let start = 0; start < ids.length; start += 500) {
    const chunk = ids.slice(start, start + 500);
    await execute(dialect, manager, `DELETE FROM ${table} WHERE "id" IN (${placeholders(chunk.length)})`, chunk);
  }
  const store = queue.store;
  if (store instanceof SqlResultStore && store.dataSource === dataSource) await store.forget(manager, ids);
  dropPending(runner, ids);
}
