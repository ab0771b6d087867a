import { InvalidOptionError, type Logger, type TaskMiddleware, type TaskQueue } from '@taskq/core';
import { parseDuration, useLogger } from '@taskq/core/adapter';
import type { DataSource } from 'typeorm';
import { InboxEntity } from './entities.js';
import { type Dialect, dialectOf, execute, tableOf } from './internal/dialect.js';
import { isSqlite, withManager } from './internal/scope.js';
import { type IsolationLevel, OwnTransaction } from './transaction.js';

/** Options of {@link taskTransaction}. */
export interface TaskTransactionOptions {
  /**
   * Tasks the task submits are written to the outbox in its transaction and
   * published after its commit (dropped if it throws). Without a queue, such
   * submits publish at once, as they do outside a transaction.
   */
  readonly queue?: TaskQueue;
  /** Isolation level of each task's transaction. @defaultValue the DataSource's default */
  readonly isolation?: IsolationLevel;
  /**
   * Write an inbox row keyed by task id in each task's transaction and ack a
   * delivery whose row exists (its transaction committed) without running it.
   * @defaultValue `true`
   */
  readonly inbox?: boolean;
  /**
   * How long inbox rows are kept; a duplicate delivered later than this runs again.
   * @defaultValue `'7d'`
   */
  readonly inboxRetention?: number | string;
  /** @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

const PRUNE_EVERY_MS = 3_600_000;

/**
 * Per-task transaction middleware: `worker.use(taskTransaction(dataSource))`.
 * Each task runs in its own database transaction; the entity codec loads the
 * task's entity arguments through it and `currentEntityManager()` returns its
 * manager. It commits when the task returns and rolls back when it throws
 * (or timed out). An inbox row keyed by the task id is written in the same
 * transaction first: a second delivery of a task whose transaction committed
 * finds it and is acked without running, so the task's database effects
 * happen once. On PostgreSQL a concurrent duplicate waits on that row's
 * unique key until the first commits or rolls back.
 */
export function taskTransaction(dataSource: DataSource, options: TaskTransactionOptions = {}): TaskMiddleware {
  const dialect = dialectOf(dataSource, 'dataSource');
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object');
  const queue = options.queue;
  if (queue !== undefined && (typeof queue.begin !== 'function' || typeof queue.submit !== 'function'))
    throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue()');
  if (options.isolation !== undefined && typeof options.isolation !== 'string')
    throw new InvalidOptionError(
      'isolation',
      `expected an isolation level such as 'READ COMMITTED', got ${String(options.isolation)}`,
    );
  const inbox = options.inbox ?? true;
  if (typeof inbox !== 'boolean') throw new InvalidOptionError('inbox', `expected true or false, got ${String(inbox)}`);
  const retentionMs = parseDuration(options.inboxRetention ?? '7d', 'inboxRetention');
  if (retentionMs <= 0) throw new InvalidOptionError('inboxRetention', 'expected a positive duration');
  const logger = useLogger(options.logger);
  const sqlite = isSqlite(dataSource);
  let lastPrune = Date.now();

  return async function taskTransactionMiddleware(ctx, next) {
    const tx = await OwnTransaction.open(dataSource, dialect, { queue, isolation: options.isolation, logger });
    try {
      if (inbox && !(await claimInbox(dataSource, dialect, tx, ctx.id))) {
        await tx.rollback();
        logger.info('task already committed once (inbox row exists); acking this delivery without running it', {
          id: ctx.id,
          task: ctx.name,
        });
        return;
      }
      await untilAborted(tx.run(next), ctx.signal, sqlite);
      // A timed-out attempt has already been failed (and maybe retried) by the worker: its late writes must not commit.
      if (ctx.signal.aborted) throw ctx.signal.reason;
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    await tx.commit();
    if (inbox && Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      pruneInbox(dataSource, dialect, Date.now() - retentionMs).catch((error: unknown) =>
        logger.warn('pruning the taskq inbox failed', { error }),
      );
    }
  };
}

/**
 * Waits for the task, or on PostgreSQL only until its attempt is aborted
 * (timeout, forced stop): then the transaction is rolled back at once and its
 * connection and row locks freed, while the abandoned code finds its
 * connection released. On SQLite the one connection cannot be taken from the
 * abandoned code (its statements would land outside any transaction), so
 * the rollback waits for it to finish.
 */
async function untilAborted(running: Promise<void>, signal: AbortSignal, sqlite: boolean): Promise<void> {
  if (sqlite) return running;
  if (signal.aborted) throw signal.reason;
  let onAbort: () => void = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([running, aborted]);
  } catch (error) {
    // The abandoned run fails later on its released connection; nobody awaits it.
    if (signal.aborted) running.catch(() => {});
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** True when this transaction now holds the task's inbox row; false when a committed one already did. */
async function claimInbox(
  dataSource: DataSource,
  dialect: Dialect,
  tx: OwnTransaction,
  taskId: string,
): Promise<boolean> {
  const table = tableOf(dataSource, InboxEntity);
  const { affected } = await execute(
    dialect,
    tx.manager,
    `INSERT INTO ${table} ("task_id", "processed_at") VALUES (?, ?) ON CONFLICT ("task_id") DO NOTHING`,
    [taskId, Date.now()],
  );
  return affected > 0;
}

async function pruneInbox(dataSource: DataSource, dialect: Dialect, cutoff: number): Promise<number> {
  const table = tableOf(dataSource, InboxEntity);
  return withManager(
    dataSource,
    'never',
    async (manager) =>
      (await execute(dialect, manager, `DELETE FROM ${table} WHERE "processed_at" < ?`, [cutoff])).affected,
  );
}
