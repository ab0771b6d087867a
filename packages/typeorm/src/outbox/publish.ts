import type { EnqueuedRecord, Logger, MessageHeaders, OutgoingMessage, TaskQueue } from '@taskq/core';
import type { DataSource, QueryRunner } from 'typeorm';
import { OutboxEntity } from '../entities.js';
import { failpoint } from '../internal/failpoint.js';
import { type Dialect, execute, placeholders, tableOf } from '../internal/dialect.js';
import { isSqlite, sqliteLock } from '../internal/scope.js';
import { SqlResultStore } from '../result-store.js';
import type { PendingBatch } from './stage.js';

/** Which outbox rows one claim takes: given ids (publish after commit), or the oldest leftovers (sweep). */
export type Selection = { readonly ids: readonly string[] } | { readonly createdBefore: number; readonly limit: number };

const COLUMNS = '"id", "queue", "task", "body", "headers", "priority", "available_at", "created_at"';

/**
 * Claims outbox rows, publishes them, deletes them, in one short
 * transaction. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`:
 * a concurrent relay (in this or another process) skips them instead of
 * publishing them too, and a row deleted by a relay that committed first is
 * not returned. On SQLite there is no row locking: taskq's single-writer
 * lock serialises claims within the process, and one relay per database
 * file is supported.
 *
 * Rows are deleted only after the broker confirmed them: a crash in between
 * publishes them again later (at-least-once), never loses them.
 *
 * @returns how many rows were published.
 */
export async function publishOutbox(dataSource: DataSource, dialect: Dialect, queue: TaskQueue, selection: Selection): Promise<number> {
  if ('ids' in selection && selection.ids.length === 0) return 0;
  if (isSqlite(dataSource)) return sqliteLock(dataSource).run(() => claimAndPublish(dataSource, dialect, queue, selection));
  return claimAndPublish(dataSource, dialect, queue, selection);
}

async function claimAndPublish(dataSource: DataSource, dialect: Dialect, queue: TaskQueue, selection: Selection): Promise<number> {
  const table = tableOf(dataSource, OutboxEntity);
  const lock = dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      const { rows } =
        'ids' in selection
          ? await execute(dialect, runner.manager, `SELECT ${COLUMNS} FROM ${table} WHERE "id" IN (${placeholders(selection.ids.length)})${lock}`, selection.ids)
          : await execute(dialect, runner.manager, `SELECT ${COLUMNS} FROM ${table} WHERE "created_at" <= ? ORDER BY "created_at", "id" LIMIT ?${lock}`, [selection.createdBefore, selection.limit]);
      if (rows.length > 0) {
        await recordEnqueuedElsewhere(dataSource, queue, rows);
        const now = Date.now();
        await queue.transport.publishMany(rows.map((row) => toMessage(row, now)));
        const ids = rows.map((row) => String(row.id));
        await execute(dialect, runner.manager, `DELETE FROM ${table} WHERE "id" IN (${placeholders(ids.length)})`, ids);
      }
      await runner.commitTransaction();
      return rows.length;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => {});
      throw error;
    }
  } finally {
    await runner.release();
  }
}

/**
 * A store that is not the SQL store of this DataSource could not take the
 * `queued` row inside the transaction: write it now, before the publish,
 * so the worker's `active` can never come first. Idempotent (insert if absent).
 */
async function recordEnqueuedElsewhere(dataSource: DataSource, queue: TaskQueue, rows: readonly Record<string, unknown>[]): Promise<void> {
  const store = queue.store;
  if (!store || (store instanceof SqlResultStore && store.dataSource === dataSource)) return;
  const records: EnqueuedRecord[] = rows.map((row) => ({ id: String(row.id), name: String(row.task), queue: String(row.queue), enqueuedAt: new Date(Number(row.created_at)) }));
  await store.enqueued(records);
}

function toMessage(row: Record<string, unknown>, now: number): OutgoingMessage {
  const remaining = Number(row.available_at) - now;
  return {
    id: String(row.id),
    queue: String(row.queue),
    body: Buffer.from(String(row.body), 'utf8'),
    headers: JSON.parse(String(row.headers)) as MessageHeaders,
    priority: row.priority === null || row.priority === undefined ? undefined : Number(row.priority),
    delayMs: remaining > 0 ? remaining : undefined,
  };
}

/**
 * Publishes what a transaction staged, right after it committed. A failure
 * is logged, not thrown: the transaction did commit, the rows are safe in
 * the outbox, and the relay's sweep publishes them later.
 */
export async function publishCommitted(dataSource: DataSource, dialect: Dialect, batches: readonly PendingBatch[] | undefined, logger: Logger): Promise<void> {
  if (!batches) return;
  // The crash window the outbox exists for: committed, not yet published.
  failpoint('after-commit-before-publish');
  for (const batch of batches) {
    try {
      await publishOutbox(dataSource, dialect, batch.queue, { ids: batch.ids });
    } catch (error) {
      logger.warn(`publishing ${batch.ids.length} committed task(s) failed; they stay in the outbox and the relay's sweep publishes them`, { error });
    }
  }
}

/** Runners whose commit taskq drives itself (the subscriber leaves them alone). */
export const ownedRunners = new WeakSet<QueryRunner>();
