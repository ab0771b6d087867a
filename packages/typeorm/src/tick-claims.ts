import { InvalidOptionError, type ScheduleMark, type TaskQueue, type TickClaim, type TickClaims } from '@taskq/core';
import { parseDuration } from '@taskq/core/adapter';
import type { DataSource } from 'typeorm';
import { ScheduleTickEntity } from './entities.js';
import { dialectOf, execute, placeholders, tableOf, toMs } from './internal/dialect.js';
import { transactional } from './transaction.js';

/** Options of {@link sqlTickClaims}. */
export interface SqlTickClaimsOptions {
  /**
   * How long a schedule's claimed ticks are kept (older ones are deleted as new ones are claimed; the latest of a
   * schedule always stays, it is what start-up catches up from).
   * @defaultValue `'35d'`
   */
  readonly retention?: number | string;
}

/**
 * Tick claims in the database, for `createScheduler({ queue, schedules, claims })`: each scheduler INSERTs the
 * claim of a tick (`ON CONFLICT DO NOTHING` on the primary key schedule id + tick time) in a database transaction,
 * and only the one whose INSERT wrote the row submits the tick's task, to the outbox in that same transaction: the
 * claim and the task commit together or not at all. `queue` must be the scheduler's queue. Needs the
 * `taskq_schedule_ticks` table (`taskqEntities` / `taskqMigrations`). PostgreSQL and SQLite.
 */
export function sqlTickClaims(
  dataSource: DataSource,
  queue: TaskQueue,
  options: SqlTickClaimsOptions = {},
): TickClaims {
  const dialect = dialectOf(dataSource, 'dataSource');
  if (!queue || typeof queue.submit !== 'function') throw new InvalidOptionError('queue', 'expected the TaskQueue');
  const retentionMs = parseDuration(options.retention ?? '35d', 'retention');
  const table = () => tableOf(dataSource, ScheduleTickEntity);
  return {
    async claim(claim: TickClaim, handle: () => Promise<string | undefined>): Promise<boolean> {
      const tick = claim.tick.getTime();
      return transactional(dataSource, queue, async (manager) => {
        const { affected } = await execute(
          dialect,
          manager,
          `INSERT INTO ${table()} ("schedule_id", "tick_at", "task_id", "spec", "claimed_at") VALUES (?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING`,
          [claim.schedule, tick, claim.spec, Date.now()],
        );
        // Zero rows: another scheduler holds the claim (on PostgreSQL the INSERT waited for its transaction).
        if (affected === 0) return false;
        const taskId = await handle();
        if (taskId !== undefined)
          await execute(
            dialect,
            manager,
            `UPDATE ${table()} SET "task_id" = ? WHERE "schedule_id" = ? AND "tick_at" = ?`,
            [taskId, claim.schedule, tick],
          );
        await execute(dialect, manager, `DELETE FROM ${table()} WHERE "schedule_id" = ? AND "tick_at" < ?`, [
          claim.schedule,
          tick - retentionMs,
        ]);
        return true;
      });
    },

    async marks(ids: readonly string[]): Promise<Map<string, ScheduleMark>> {
      const marks = new Map<string, ScheduleMark>();
      if (ids.length === 0) return marks;
      const manager = dataSource.manager;
      const t = table();
      const { rows: last } = await execute(
        dialect,
        manager,
        `SELECT c."schedule_id", c."tick_at", c."spec" FROM ${t} c WHERE c."schedule_id" IN (${placeholders(ids.length)}) AND c."tick_at" = (SELECT MAX(m."tick_at") FROM ${t} m WHERE m."schedule_id" = c."schedule_id")`,
        ids,
      );
      const { rows: fired } = await execute(
        dialect,
        manager,
        `SELECT "schedule_id", MAX("tick_at") AS "fired" FROM ${t} WHERE "schedule_id" IN (${placeholders(ids.length)}) AND "task_id" IS NOT NULL GROUP BY "schedule_id"`,
        ids,
      );
      const firedBy = new Map(fired.map((row) => [String(row.schedule_id), toMs(row.fired)]));
      for (const row of last) {
        const id = String(row.schedule_id);
        const tick = toMs(row.tick_at) as number;
        const lastFired = firedBy.get(id);
        marks.set(id, { tick, spec: String(row.spec), ...(lastFired === undefined ? {} : { fired: lastFired }) });
      }
      return marks;
    },
  };
}
