import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { sqlResultStore, taskqEntities, taskqMigrations } from '../src/index.js';
import { type DbKind, PG_URL, TestDatabase } from './support/db.js';

describe.each<DbKind>(['postgres', 'sqlite'])('taskqMigrations (%s)', (kind) => {
  it('create exactly the tables taskqEntities describe (synchronize finds nothing to change), and drop them again', async () => {
    const db = await TestDatabase.create(kind);
    const common = {
      entities: [...taskqEntities],
      migrations: [...taskqMigrations],
      synchronize: false as const,
      logging: false,
    };
    const dataSource =
      kind === 'postgres'
        ? new DataSource({ ...common, type: 'postgres', url: PG_URL, schema: db.location })
        : new DataSource({ ...common, type: 'better-sqlite3', database: db.location });
    await dataSource.initialize();
    try {
      const applied = await dataSource.runMigrations();
      expect(applied.map((m) => m.name)).toEqual([
        'TaskqTables1735689600000',
        'TaskqOutboxPublishAttempts1767225600000',
        'TaskqStatusWorkerId1780000000000',
        'TaskqTaskIndex1780272000000',
        'TaskqScheduleTicks1780358400000',
        'TaskqStatusHistory1780444800000',
      ]);
      const pending = await dataSource.driver.createSchemaBuilder().log();
      console.log(
        `[${kind}] after taskqMigrations, synchronize would run ${pending.upQueries.length} statement(s)`,
        pending.upQueries.map((q) => q.query),
      );
      expect(pending.upQueries).toEqual([]);
      const store = sqlResultStore(dataSource);
      const id = '00000000-0000-7000-8000-000000000001';
      await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: new Date() }]);
      expect((await store.get(id))?.state).toBe('queued');
      for (const _ of applied) await dataSource.undoLastMigration();
      const runner = dataSource.createQueryRunner();
      const tables = await runner.getTables(
        ['taskq_outbox', 'taskq_inbox', 'taskq_status', 'taskq_keys', 'taskq_schedule_ticks'].map((t) =>
          kind === 'postgres' ? `${db.location}.${t}` : t,
        ),
      );
      await runner.release();
      expect(tables).toEqual([]);
    } finally {
      await dataSource.destroy();
      await db.cleanup();
    }
  });
});
