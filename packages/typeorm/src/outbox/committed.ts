import type { Logger, TaskQueue } from '@taskq/core';
import { lazyArgs, type OutgoingMessage, publishWithDiagnostics } from '@taskq/core/adapter';
import type { DataSource } from 'typeorm';
import { failpoint } from '../internal/failpoint.js';
import type { Dialect } from '../internal/dialect.js';
import { outboxDeleter } from './deleter.js';
import { hold, release } from './holds.js';
import { guardSlowPublish } from './slow-publish.js';
import { publishOutbox, recordEnqueuedElsewhere } from './publish.js';
import { type PendingBatch, type Staged, type StagedRow, stagedIds } from './stage.js';

/**
 * How long a row is the committing process's alone, unlocked, counted from
 * its INSERT: rows at most this old when their transaction has committed are
 * published from memory, and those whose publish or DELETE is not done by
 * then are locked (see guardSlowPublish); an older row (a long transaction)
 * is claimed first, as a sweep claims it. Well under the relay's default
 * `minAge` (2 s), the age at which a relay elsewhere takes a row as left
 * behind.
 */
export const FRESH_MS = 1_000;
/** Rows claimed by id per claim transaction. */
const CLAIM_IDS = 500;
/** How long a hold taken before a COMMIT lasts if the COMMIT's answer never comes (the connection died). */
const COMMIT_HOLD_MS = 60_000;

/** Before a COMMIT: this process's sweep must leave the rows alone from the moment they become visible. */
export function holdForCommit(dataSource: DataSource, staged: Staged | undefined): void {
  if (staged) hold(dataSource, stagedIds(staged), Date.now() + COMMIT_HOLD_MS);
}

/** After a failed COMMIT or a rollback: nothing to hold any more. */
export function releaseStaged(dataSource: DataSource, staged: Staged | undefined): void {
  if (staged) release(dataSource, stagedIds(staged));
}

/**
 * Publishes what a transaction staged, right after it committed: from
 * memory, the messages exactly as they were written to the outbox, then
 * their rows are deleted (in a DELETE shared with the other transactions
 * that got their broker confirm meanwhile). No read of the outbox, no claim
 * transaction. Rows the transaction may have undone itself (see
 * `Staged.verify`) and rows of a long transaction are claimed first and
 * published only as far as they are in the table, as a sweep does.
 *
 * A failure is logged, not thrown: the transaction did commit, the rows are
 * safe in the outbox, and the relay's sweep publishes them later.
 */
export async function publishCommitted(
  dataSource: DataSource,
  dialect: Dialect,
  staged: Staged | undefined,
  logger: Logger,
): Promise<void> {
  if (!staged) return;
  // The crash window the outbox exists for: committed, not yet published.
  failpoint('after-commit-before-publish');
  const ids = stagedIds(staged);
  hold(dataSource, ids, Number.POSITIVE_INFINITY);
  try {
    for (const batch of staged.batches) {
      if (batch.rows.length === 0) continue;
      try {
        await publishBatch(dataSource, dialect, batch, staged.verify, logger);
      } catch (error) {
        logger.warn(
          `publishing ${batch.rows.length} committed task(s) failed; they stay in the outbox and the relay's sweep publishes them`,
          { error },
        );
      }
    }
  } finally {
    release(dataSource, ids);
  }
}

async function publishBatch(
  dataSource: DataSource,
  dialect: Dialect,
  batch: PendingBatch,
  verify: boolean,
  logger: Logger,
): Promise<void> {
  const now = Date.now();
  const fresh: StagedRow[] = [];
  const claimFirst: string[] = [];
  for (const row of batch.rows) {
    if (!verify && now - row.createdAt <= FRESH_MS) fresh.push(row);
    else claimFirst.push(row.message.id);
  }
  // In claims of CLAIM_IDS: one IN list per claim, and a database takes only so many parameters.
  for (let start = 0; start < claimFirst.length; start += CLAIM_IDS) {
    const ids = claimFirst.slice(start, start + CLAIM_IDS);
    // No failure policy: counting tries and dead-lettering is the sweep's (with the relay's options).
    const { failed, firstError } = await publishOutbox(dataSource, dialect, batch.queue, { ids });
    if (failed > 0) warnLeft(logger, failed, firstError);
  }
  if (fresh.length > 0) await publishFromMemory(dataSource, dialect, batch.queue, fresh, logger);
}

async function publishFromMemory(
  dataSource: DataSource,
  dialect: Dialect,
  queue: TaskQueue,
  rows: readonly StagedRow[],
  logger: Logger,
): Promise<void> {
  await recordEnqueuedElsewhere(
    dataSource,
    queue,
    rows.map((row) => ({
      id: row.message.id,
      name: row.name,
      queue: row.message.queue,
      enqueuedAt: new Date(row.createdAt),
      args: lazyArgs(row.message.body),
    })),
  );
  const transport = queue.transport;
  const now = Date.now();
  let failed = 0;
  let firstError: unknown;
  // One publish per row, all in flight together: one refusal must not fail the others.
  const confirmed = Promise.allSettled(
    rows.map(async (row) => {
      const message = messageAt(row, now);
      await publishWithDiagnostics(transport, [{ message, name: row.name }], () => transport.publish(message));
    }),
  ).then((results) =>
    results.flatMap((result, i) => {
      if (result.status === 'fulfilled') return [rows[i].message.id];
      failed++;
      firstError ??= result.reason;
      return [];
    }),
  );
  const oldest = rows.reduce((min, row) => Math.min(min, row.createdAt), Number.POSITIVE_INFINITY);
  const guard =
    dialect === 'postgres'
      ? guardSlowPublish(
          dataSource,
          dialect,
          rows.map((row) => row.message.id),
          oldest + FRESH_MS,
          confirmed,
          logger,
        )
      : undefined;
  try {
    const ids = await confirmed;
    // Deleted only once the broker confirmed them: a crash before this publishes them again (at-least-once).
    await outboxDeleter(dataSource, dialect).delete(ids);
  } catch (error) {
    logger.warn(
      "committed task(s) were published but their outbox rows could not be deleted; the relay's sweep will publish them again",
      { error },
    );
  } finally {
    await guard?.stop();
  }
  if (failed > 0) warnLeft(logger, failed, firstError);
}

/** The message as written, with what is left of its delay now. */
function messageAt(row: StagedRow, now: number): OutgoingMessage {
  const remaining = row.availableAt - now;
  const delayMs = remaining > 0 ? remaining : undefined;
  return delayMs === row.message.delayMs ? row.message : { ...row.message, delayMs };
}

function warnLeft(logger: Logger, failed: number, error: unknown): void {
  logger.warn(
    `publishing ${failed} committed task(s) failed; they stay in the outbox and the relay's sweep publishes them`,
    { error },
  );
}
