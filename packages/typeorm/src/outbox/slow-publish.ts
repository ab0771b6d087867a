import type { Logger } from '@taskq/core';
import type { DataSource } from 'typeorm';
import { OutboxEntity } from '../entities.js';
import { detached } from '../internal/detached.js';
import { type Dialect, execute, tableOf } from '../internal/dialect.js';

/** Stops the guard: resolves once it is cleared, or once the lock it took is committed. */
export interface SlowPublishGuard {
  stop(): Promise<void>;
}

/**
 * The committing process's guard for a publish from memory that is still
 * unfinished (no broker confirm yet, or no DELETE yet) when its rows come
 * close to the age at which a relay of another process counts them as left
 * behind: at `lockAt` it locks the rows still in the table, `FOR UPDATE SKIP
 * LOCKED` as a sweep does, so every relay skips them; once the publish
 * settled it deletes the confirmed ones and commits. Costs one timer while
 * the publish is quick. PostgreSQL only: SQLite has no row locks (and one
 * relay per database file).
 *
 * It never waits for the DELETE of the ordinary path: that DELETE may wait
 * for its locks, the other way round.
 */
export function guardSlowPublish(
  dataSource: DataSource,
  dialect: Dialect,
  ids: readonly string[],
  lockAt: number,
  confirmed: Promise<readonly string[]>,
  logger: Logger,
): SlowPublishGuard {
  let running: Promise<void> | undefined;
  const timer = setTimeout(
    () => {
      running = detached(() => lockUntilSettled(dataSource, dialect, ids, confirmed)).catch((error: unknown) =>
        logger.warn(
          `could not lock ${ids.length} outbox row(s) whose publish is slow; a relay of another process may publish them too`,
          { error },
        ),
      );
    },
    Math.max(0, lockAt - Date.now()),
  );
  return {
    async stop() {
      clearTimeout(timer);
      await running;
    },
  };
}

async function lockUntilSettled(
  dataSource: DataSource,
  dialect: Dialect,
  ids: readonly string[],
  confirmed: Promise<readonly string[]>,
): Promise<void> {
  const table = tableOf(dataSource, OutboxEntity);
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.startTransaction();
    try {
      const { rows } = await execute(
        dialect,
        runner.manager,
        `SELECT "id" FROM ${table} WHERE "id" = ANY(?) FOR UPDATE SKIP LOCKED`,
        [ids],
      );
      const locked = new Set(rows.map((row) => String(row.id)));
      const done = (await confirmed).filter((id) => locked.has(id));
      if (done.length > 0) await execute(dialect, runner.manager, `DELETE FROM ${table} WHERE "id" = ANY(?)`, [done]);
      await runner.commitTransaction();
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => {});
      throw error;
    }
  } finally {
    await runner.release();
  }
}
