import { TaskqError, type TaskQueue } from '@taskq/core';
import {
  type EnqueuedRecord,
  lazyArgs,
  type MessageHeaders,
  type OutgoingMessage,
  publishWithDiagnostics,
} from '@taskq/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { OutboxEntity } from '../entities.js';
import { type Dialect, execute, placeholders, tableOf } from '../internal/dialect.js';
import { isSqlite, sqliteLock } from '../internal/scope.js';
import { SqlResultStore } from '../result-store.js';
import { isHeld } from './holds.js';
import { type ClaimedRow, type DeadRow, type FailurePolicy, recordDead, settleFailures } from './unpublishable.js';

/** Where a sweep has got to: the last row it claimed, in the order it claims them. */
export interface Cursor {
  readonly createdAt: number;
  readonly id: string;
}

/**
 * Which outbox rows one claim takes: given ids (publish after commit), or
 * the oldest leftovers after `after` (sweep). A sweep moves its cursor past
 * every row it claimed, so a row that failed is not claimed again in the
 * same sweep and cannot hold back the rows behind it.
 */
export type Selection =
  | { readonly ids: readonly string[] }
  | { readonly createdBefore: number; readonly limit: number; readonly after?: Cursor };

/** What one claim did. */
export interface ClaimOutcome {
  /** Rows claimed (locked by this claim). */
  readonly claimed: number;
  /** Rows the broker confirmed; deleted. */
  readonly published: number;
  /** Rows dead-lettered after their publish failed; deleted. */
  readonly dead: readonly DeadRow[];
  /** Rows whose publish failed and that stay for a later sweep. */
  readonly failed: number;
  /** The first publish error, for the log. */
  readonly firstError: unknown;
  /** The last row claimed, where the next claim of a sweep starts. */
  readonly last: Cursor | undefined;
}

const COLUMNS =
  '"id", "queue", "task", "body", "headers", "priority", "available_at", "created_at", "publish_attempts"';

/**
 * Claims outbox rows, publishes them, deletes them, in one short
 * transaction. On PostgreSQL the rows are locked `FOR UPDATE SKIP LOCKED`:
 * a concurrent relay (in this or another process) skips them instead of
 * publishing them too, and a row deleted by a relay that committed first is
 * not returned. On SQLite there is no row locking: taskq's single-writer
 * lock serialises claims within the process, and one relay per database
 * file is supported.
 *
 * Each row is published on its own: the rows the broker confirmed are
 * deleted even when another row of the claim failed (re-publishing them
 * would duplicate them). A failed row stays, or with `policy` (the relay's
 * sweep) is counted and in the end dead-lettered: see settleFailures. Rows
 * are deleted only after the broker confirmed them: a crash in between
 * publishes them again later (at-least-once), never loses them.
 */
export async function publishOutbox(
  dataSource: DataSource,
  dialect: Dialect,
  queue: TaskQueue,
  selection: Selection,
  policy?: FailurePolicy,
): Promise<ClaimOutcome> {
  if ('ids' in selection && selection.ids.length === 0)
    return { claimed: 0, published: 0, dead: [], failed: 0, firstError: undefined, last: undefined };
  const outcome = isSqlite(dataSource)
    ? await sqliteLock(dataSource).run(() => claimAndPublish(dataSource, dialect, queue, selection, policy))
    : await claimAndPublish(dataSource, dialect, queue, selection, policy);
  await recordDead(queue, outcome.dead);
  return outcome;
}

async function claimAndPublish(
  dataSource: DataSource,
  dialect: Dialect,
  queue: TaskQueue,
  selection: Selection,
  policy: FailurePolicy | undefined,
): Promise<ClaimOutcome> {
  const table = tableOf(dataSource, OutboxEntity);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      const rows = await claim(dialect, runner.manager, table, selection);
      let outcome: ClaimOutcome = {
        claimed: 0,
        published: 0,
        dead: [],
        failed: 0,
        firstError: undefined,
        last: undefined,
      };
      if (rows.length > 0) {
        // A sweep leaves alone the rows this process's committing code is publishing itself (they stay locked until
        // this claim ends, which only delays that code's DELETE). Claimed by id, the rows are that code's own.
        const now = Date.now();
        const toPublish = 'ids' in selection ? rows : rows.filter((row) => !isHeld(dataSource, String(row.id), now));
        await recordEnqueuedElsewhere(dataSource, queue, toPublish.map(enqueuedRecordOf));
        // One publish per row, all in flight together (as publishMany would): one refusal must not fail the others.
        const transport = queue.transport;
        const results = await Promise.allSettled(
          toPublish.map(async (row) => {
            const message = toMessage(row, now);
            await publishWithDiagnostics(transport, [{ message, name: String(row.task) }], () =>
              transport.publish(message),
            );
          }),
        );
        const confirmed: string[] = [];
        const failures: Array<{ row: ClaimedRow; error: unknown }> = [];
        results.forEach((result, i) => {
          if (result.status === 'fulfilled') confirmed.push(String(toPublish[i].id));
          else failures.push({ row: toPublish[i], error: result.reason });
        });
        if (confirmed.length > 0)
          await execute(
            dialect,
            runner.manager,
            `DELETE FROM ${table} WHERE "id" IN (${placeholders(confirmed.length)})`,
            confirmed,
          );
        const dead = policy
          ? await settleFailures(dialect, runner.manager, table, queue.transport, failures, policy)
          : [];
        const last = rows[rows.length - 1];
        outcome = {
          claimed: rows.length,
          published: confirmed.length,
          dead,
          failed: failures.length - dead.length,
          firstError: failures[0]?.error,
          last: { createdAt: Number(last.created_at), id: String(last.id) },
        };
      }
      await runner.commitTransaction();
      return outcome;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => {});
      throw error;
    }
  } finally {
    await runner.release();
  }
}

async function claim(
  dialect: Dialect,
  manager: EntityManager,
  table: string,
  selection: Selection,
): Promise<ClaimedRow[]> {
  const lock = dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  if ('ids' in selection) {
    return (
      await execute(
        dialect,
        manager,
        `SELECT ${COLUMNS} FROM ${table} WHERE "id" IN (${placeholders(selection.ids.length)})${lock}`,
        selection.ids,
      )
    ).rows;
  }
  const { createdBefore, limit, after } = selection;
  const [where, params] = after
    ? [
        '"created_at" <= ? AND ("created_at" > ? OR ("created_at" = ? AND "id" > ?))',
        [createdBefore, after.createdAt, after.createdAt, after.id],
      ]
    : ['"created_at" <= ?', [createdBefore]];
  return (
    await execute(
      dialect,
      manager,
      `SELECT ${COLUMNS} FROM ${table} WHERE ${where} ORDER BY "created_at", "id" LIMIT ?${lock}`,
      [...params, limit],
    )
  ).rows;
}

/**
 * A store that is not the SQL store of this DataSource could not take the
 * `queued` row inside the transaction: write it now, before the publish,
 * so the worker's `active` can never come first. Idempotent (insert if absent).
 */
export async function recordEnqueuedElsewhere(
  dataSource: DataSource,
  queue: TaskQueue,
  records: readonly EnqueuedRecord[],
): Promise<void> {
  const store = queue.store;
  if (!store || records.length === 0 || (store instanceof SqlResultStore && store.dataSource === dataSource)) return;
  await store.enqueued(records);
}

function enqueuedRecordOf(row: ClaimedRow): EnqueuedRecord {
  return {
    id: String(row.id),
    name: String(row.task),
    queue: String(row.queue),
    enqueuedAt: new Date(Number(row.created_at)),
    args: lazyArgs(String(row.body)),
  };
}

/** An outbox row that cannot even be turned into a message (written by hand, or damaged). */
class OutboxRowMalformedError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_OUTBOX_ROW_MALFORMED', `outbox row is malformed: ${message}`);
  }
}

function toMessage(row: ClaimedRow, now: number): OutgoingMessage {
  const remaining = Number(row.available_at) - now;
  let headers: unknown;
  try {
    headers = JSON.parse(String(row.headers));
  } catch (error) {
    throw new OutboxRowMalformedError(`its headers are not JSON (${(error as Error).message})`);
  }
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
    throw new OutboxRowMalformedError('its headers are not a JSON object');
  if (typeof row.body !== 'string') throw new OutboxRowMalformedError('it has no body');
  return {
    id: String(row.id),
    queue: String(row.queue),
    body: Buffer.from(row.body, 'utf8'),
    headers: headers as MessageHeaders,
    priority: row.priority === null || row.priority === undefined ? undefined : Number(row.priority),
    delayMs: remaining > 0 ? remaining : undefined,
  };
}

/** Runners whose commit taskq drives itself (the subscriber leaves them alone). */
export const ownedRunners = new WeakSet<QueryRunner>();
