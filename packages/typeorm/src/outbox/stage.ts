import type { TaskQueue } from '@taskq/core';
import {
  type EnqueuedRecord,
  lazyArgs,
  type OutgoingMessage,
  type PreparedTask,
  type StageTasks,
} from '@taskq/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { OutboxEntity } from '../entities.js';
import { type Dialect, execute, placeholders, tableOf } from '../internal/dialect.js';
import { SqlResultStore } from '../result-store.js';

/** One task written to the outbox, kept in memory so the committing process can publish it without reading it back. */
export interface StagedRow {
  /** The message as submitted; its delay is recomputed from `availableAt` when it is published. */
  readonly message: OutgoingMessage;
  /** Registry id of the task. */
  readonly name: string;
  /** Epoch ms before which the task must not run (the row's `available_at`). */
  readonly availableAt: number;
  /** Epoch ms the row was written (its `created_at`, which a relay's `minAge` counts from). */
  readonly createdAt: number;
}

/** Tasks staged into one transaction's outbox for one queue, to publish once it commits. */
export interface PendingBatch {
  readonly queue: TaskQueue;
  readonly rows: StagedRow[];
}

/** What a transaction staged, as its commit hands it over. */
export interface Staged {
  readonly batches: PendingBatch[];
  /**
   * Set when something after the first stage may have undone rows the memory still lists: a statement that rolled
   * back (to a savepoint, or all of it), a statement that failed (PostgreSQL then aborts the transaction), a COMMIT
   * that PostgreSQL answered with ROLLBACK. The rows are then published only as far as they exist in the table.
   */
  verify: boolean;
  /** Every staged id, once asked for (cleared when rows are added or dropped). */
  ids?: string[];
}

// Keyed by the QueryRunner, which is the transaction: whoever sees that
// runner commit (our helpers, or the afterTransactionCommit subscriber)
// takes the rows and publishes them.
const pending = new WeakMap<QueryRunner, Staged>();

const ROWS_PER_INSERT = 100;

/**
 * A unit-of-work stage that INSERTs each submitted task into the outbox
 * through `manager` (so it commits or rolls back with the caller's writes),
 * writes its `queued` status row in the same transaction when the queue's
 * store is the SQL store of this DataSource, and remembers the rows for the
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
    const rows = await insertOutboxRows(dataSource, dialect, manager, tasks);
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
    staged?.push(...tasks.map((t) => t.handle.id));
    addPending(runner, queue, rows);
  };
}

async function insertOutboxRows(
  dataSource: DataSource,
  dialect: Dialect,
  manager: EntityManager,
  tasks: readonly PreparedTask[],
): Promise<StagedRow[]> {
  const table = tableOf(dataSource, OutboxEntity);
  const now = Date.now();
  const rows: StagedRow[] = [];
  for (let start = 0; start < tasks.length; start += ROWS_PER_INSERT) {
    const chunk = tasks.slice(start, start + ROWS_PER_INSERT);
    const params: unknown[] = [];
    for (const { handle, message } of chunk) {
      // The delay counts from submit: the publish gives the message what is left of it.
      const availableAt = now + (message.delayMs ?? 0);
      params.push(
        message.id,
        message.queue,
        handle.name,
        message.body.toString('utf8'),
        JSON.stringify(message.headers),
        message.priority ?? null,
        availableAt,
        now,
      );
      rows.push({ message, name: handle.name, availableAt, createdAt: now });
    }
    const values = chunk.map(() => `(${placeholders(8)})`).join(', ');
    await execute(
      dialect,
      manager,
      `INSERT INTO ${table} ("id", "queue", "task", "body", "headers", "priority", "available_at", "created_at") VALUES ${values}`,
      params,
    );
  }
  return rows;
}

function addPending(runner: QueryRunner, queue: TaskQueue, rows: readonly StagedRow[]): void {
  let staged = pending.get(runner);
  if (!staged) {
    staged = { batches: [], verify: false };
    pending.set(runner, staged);
  }
  staged.ids = undefined;
  let batch = staged.batches.find((b) => b.queue === queue);
  if (!batch) {
    batch = { queue, rows: [] };
    staged.batches.push(batch);
  }
  batch.rows.push(...rows);
}

/** What is staged in `runner`'s transaction so far (still open), if anything. */
export function peekPending(runner: QueryRunner): Staged | undefined {
  return pending.get(runner);
}

/** Takes (and forgets) what was staged into `runner`'s transaction. */
export function takePending(runner: QueryRunner): Staged | undefined {
  const staged = pending.get(runner);
  pending.delete(runner);
  return staged?.batches.some((b) => b.rows.length > 0) ? staged : undefined;
}

/** Forgets some staged ids (their rows were deleted), or all of them. */
export function dropPending(runner: QueryRunner, ids?: readonly string[]): void {
  if (!ids) {
    pending.delete(runner);
    return;
  }
  const drop = new Set(ids);
  const staged = pending.get(runner);
  if (staged) staged.ids = undefined;
  for (const batch of staged?.batches ?? []) {
    const kept = batch.rows.filter((row) => !drop.has(row.message.id));
    batch.rows.splice(0, batch.rows.length, ...kept);
  }
}

// Any statement that may undo earlier work of the transaction: ROLLBACK [TO SAVEPOINT], ABORT. Matched loosely (a
// false match only costs the careful publish).
const UNDOING = /rollback|abort/i;
const COMMIT = /^\s*(commit|end)\b/i;

/**
 * Watches the statements of a transaction that staged tasks (TypeORM's `afterQuery`): after one that may have undone
 * staged rows, the commit publishes only the rows that are really in the table.
 */
export function noteStatement(runner: QueryRunner, query: string, success: boolean, raw: unknown): void {
  const staged = pending.get(runner);
  if (!staged || staged.verify) return;
  if (!success || UNDOING.test(query)) staged.verify = true;
  // PostgreSQL answers the COMMIT of a transaction that had failed with ROLLBACK, not an error.
  else if (COMMIT.test(query) && (raw as { command?: unknown } | undefined)?.command === 'ROLLBACK')
    staged.verify = true;
}

/** Every id of a transaction's staged rows. */
export function stagedIds(staged: Staged): string[] {
  staged.ids ??= staged.batches.flatMap((b) => b.rows.map((row) => row.message.id));
  return staged.ids;
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
