import type { TaskQueue } from '@taskq/core';
import { type EnqueuedRecord, lazyArgs, type PreparedTask, type StageTasks } from '@taskq/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { OutboxEntity } from '../entities.js';
import { type Dialect, execute, placeholders, tableOf } from '../internal/dialect.js';
import { SqlResultStore } from '../result-store.js';
import { inlineInsert, insertRows, type StagedRow, stagedRows } from './rows.js';

export type { StagedRow } from './rows.js';

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
  /**
   * PostgreSQL: the outbox table (quoted) and the staged rows not INSERTed yet. They go into the table in the COMMIT's
   * own round trip (see pipelineCommit), or just before a statement that could end or divide the transaction (see
   * beforeStatement), so a task costs the request no statement of its own.
   */
  readonly table: string | undefined;
  unwritten: StagedRow[];
  /** A statement failed and no ROLLBACK TO has recovered the transaction since: nothing can be written any more. */
  aborted: boolean;
}

// Keyed by the QueryRunner, which is the transaction: whoever sees that
// runner commit (our helpers, or the afterTransactionCommit subscriber)
// takes the rows and publishes them.
const pending = new WeakMap<QueryRunner, Staged>();

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
    // Resolved now, so a DataSource without taskq's entities fails the submit, not the commit.
    const table = tableOf(dataSource, OutboxEntity);
    const rows = stagedRows(tasks, Date.now());
    // PostgreSQL: written with the COMMIT (see Staged.unwritten). SQLite: one connection, no round trip to save.
    const deferred = dialect === 'postgres';
    if (!deferred) await insertRows(dialect, manager, table, rows);
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
    addPending(runner, queue, rows, deferred ? table : undefined);
  };
}

function addPending(
  runner: QueryRunner,
  queue: TaskQueue,
  rows: readonly StagedRow[],
  unwrittenIn: string | undefined,
): void {
  let staged = pending.get(runner);
  if (!staged) {
    staged = { batches: [], verify: false, table: unwrittenIn, unwritten: [], aborted: false };
    pending.set(runner, staged);
  }
  staged.ids = undefined;
  if (unwrittenIn !== undefined) staged.unwritten.push(...rows);
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
  if (staged) staged.unwritten = staged.unwritten.filter((row) => !drop.has(row.message.id));
}

// Any statement that may undo earlier work of the transaction: ROLLBACK [TO SAVEPOINT], ABORT. Matched loosely (a
// false match only costs the careful publish).
const UNDOING = /rollback|abort/i;
// A text whose last statement is a COMMIT (or END): PostgreSQL answers a failed transaction's with ROLLBACK.
const COMMIT = /(^|;)\s*(commit|end)\b[^;]*;?\s*$/i;
// A statement that could end, divide or undo the transaction: written rows must be in the table before it runs.
// Matched loosely: a false match (a column named "start", a CASE ... END) only costs the rows their own round trip.
const CONTROL = /\b(savepoint|rollback|release|commit|abort|end|begin|start|prepare)\b/i;
// A text that starts by rolling back: what was staged since the last savepoint (all unwritten rows) is undone.
const ROLLS_BACK = /^\s*(rollback|abort)\b/i;
const ROLLS_BACK_TO = /^\s*rollback\s+to\b/i;
// Exactly TypeORM's COMMIT of the outermost transaction.
const COMMIT_ONLY = /^\s*commit\s*;?\s*$/i;

/**
 * Watches the statements of a transaction that staged tasks (TypeORM's `afterQuery`): after one that may have undone
 * staged rows, the commit publishes only the rows that are really in the table.
 */
export function noteStatement(runner: QueryRunner, query: string, success: boolean, raw: unknown): void {
  const staged = pending.get(runner);
  if (!staged) return;
  if (!success) staged.aborted = true;
  else if (ROLLS_BACK_TO.test(query)) staged.aborted = false;
  if (staged.verify) return;
  if (!success || UNDOING.test(query)) staged.verify = true;
  // PostgreSQL answers the COMMIT of a transaction that had failed with ROLLBACK, not an error.
  else if (COMMIT.test(query) && lastCommand(raw) === 'ROLLBACK') staged.verify = true;
}

/** The command tag of a statement's result (of its last statement when the text held several). */
function lastCommand(raw: unknown): unknown {
  const last: unknown = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return (last as { command?: unknown } | undefined)?.command;
}

/**
 * Before a statement of a transaction with unwritten rows (TypeORM's `beforeQuery`, which it awaits): one that could
 * end or divide the transaction gets the rows written first, so that a savepoint, a release or a COMMIT issued by
 * hand finds them in the table exactly as if they had been INSERTed at submit. One that rolls back drops them
 * instead: every unwritten row was staged after the latest savepoint (a SAVEPOINT writes the rows before it), so any
 * ROLLBACK [TO] undoes them. In an aborted transaction nothing can be written: the rows stay unwritten, and its COMMIT
 * (answered with ROLLBACK) publishes none of them. Returns a promise only when it has work to do.
 */
export function beforeStatement(dialect: Dialect, runner: QueryRunner, query: string): Promise<void> | undefined {
  const staged = pending.get(runner);
  if (!staged || staged.unwritten.length === 0 || !CONTROL.test(query)) return undefined;
  if (ROLLS_BACK.test(query)) {
    const undone = staged.unwritten.map((row) => row.message.id);
    staged.unwritten = [];
    dropPending(runner, undone);
    return undefined;
  }
  if (staged.aborted || staged.table === undefined) return undefined;
  const rows = staged.unwritten;
  staged.unwritten = [];
  return insertRows(dialect, runner.manager, staged.table, rows);
}

/**
 * Before a transaction's COMMIT (TypeORM's `beforeTransactionCommit`): its unwritten rows ride in the COMMIT's own
 * round trip, `INSERT ...; COMMIT` as one simple-protocol text, so the outbox adds no statement of its own to the
 * request. Only for TypeORM's plain COMMIT of a healthy transaction: a savepoint's RELEASE or a COMMIT that differs
 * goes through beforeStatement, which writes the rows first.
 */
export function pipelineCommit(runner: QueryRunner): void {
  const staged = pending.get(runner);
  if (!staged || staged.unwritten.length === 0 || staged.table === undefined) return;
  // Someone else's wrapper is there: leave it; the rows are written before the COMMIT by beforeStatement.
  if (Object.hasOwn(runner, 'query')) return;
  const table = staged.table;
  const query = runner.query as (sql: string, parameters?: unknown[], structured?: boolean) => Promise<unknown>;
  const once = function (this: QueryRunner, sql: string, parameters?: unknown[], structured?: boolean) {
    delete (runner as { query?: unknown }).query;
    const current = pending.get(runner);
    const combine =
      current !== undefined &&
      current.unwritten.length > 0 &&
      !current.aborted &&
      COMMIT_ONLY.test(sql) &&
      (parameters === undefined || parameters.length === 0);
    if (!combine) return query.call(this, sql, parameters, structured);
    const rows = current.unwritten;
    current.unwritten = [];
    return query.call(this, `${inlineInsert(table, rows)}; ${sql}`, parameters, structured);
  };
  runner.query = once as QueryRunner['query'];
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
