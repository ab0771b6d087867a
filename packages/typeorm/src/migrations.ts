import {
  type MigrationInterface,
  type QueryRunner,
  Table,
  TableColumn,
  type TableColumnOptions,
  TableIndex,
} from 'typeorm';
import { TABLES } from './entities.js';

const id = (name: string): TableColumnOptions => ({ name, type: 'varchar', length: '36', isPrimary: true });
const text = (name: string, nullable = false): TableColumnOptions => ({ name, type: 'text', isNullable: nullable });
const varchar = (name: string, length: string): TableColumnOptions => ({ name, type: 'varchar', length });
const epochMs = (name: string, nullable = false): TableColumnOptions => ({
  name,
  type: 'bigint',
  isNullable: nullable,
});

/**
 * Creates taskq's four tables (outbox, inbox, status, keys) exactly as
 * `taskqEntities` describes them, in the DataSource's `schema` when it has
 * one. Add it with `migrations: [...yourMigrations, ...taskqMigrations]`.
 */
export class TaskqTables1735689600000 implements MigrationInterface {
  readonly name = 'TaskqTables1735689600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const at = tablePath(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: at(TABLES.outbox),
        columns: [
          id('id'),
          varchar('queue', '255'),
          varchar('task', '255'),
          text('body'),
          text('headers'),
          { name: 'priority', type: 'integer', isNullable: true },
          epochMs('available_at'),
          epochMs('created_at'),
        ],
        indices: [{ name: 'taskq_outbox_created_at', columnNames: ['created_at'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: at(TABLES.inbox),
        columns: [{ ...id('task_id') }, epochMs('processed_at')],
        indices: [{ name: 'taskq_inbox_processed_at', columnNames: ['processed_at'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: at(TABLES.status),
        columns: [
          id('id'),
          varchar('name', '255'),
          varchar('queue', '255'),
          varchar('state', '16'),
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'deliveries', type: 'integer', default: 0 },
          { name: 'dead_retries', type: 'integer', default: 0 },
          text('result', true),
          text('error', true),
          epochMs('enqueued_at'),
          epochMs('started_at', true),
          epochMs('finished_at', true),
        ],
        indices: [{ name: 'taskq_status_finished_at', columnNames: ['finished_at'] }],
      }),
      true,
    );
    await queryRunner.createTable(
      new Table({
        name: at(TABLES.keys),
        columns: [
          { name: 'key', type: 'varchar', length: '255', isPrimary: true },
          varchar('task_id', '36'),
          epochMs('claimed_at'),
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const at = tablePath(queryRunner);
    for (const table of [TABLES.keys, TABLES.status, TABLES.inbox, TABLES.outbox])
      await queryRunner.dropTable(at(table), true);
  }
}

/**
 * Adds the outbox's `publish_attempts` and `last_error` columns: the relay
 * counts failed publishes of a row there and dead-letters it after
 * `maxPublishAttempts`, so one row it cannot publish never stalls the others.
 */
export class TaskqOutboxPublishAttempts1767225600000 implements MigrationInterface {
  readonly name = 'TaskqOutboxPublishAttempts1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumns(tablePath(queryRunner)(TABLES.outbox), [
      new TableColumn({ name: 'publish_attempts', type: 'integer', default: 0 }),
      new TableColumn(text('last_error', true)),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const table = tablePath(queryRunner)(TABLES.outbox);
    await queryRunner.dropColumn(table, 'last_error');
    await queryRunner.dropColumn(table, 'publish_attempts');
  }
}

/**
 * The task index and progress: the status table's `progress` and `args` columns and the
 * indexes `store.list()` pages through (newest first, whole or by state, name
 * or queue).
 */
export class TaskqTaskIndex1780272000000 implements MigrationInterface {
  readonly name = 'TaskqTaskIndex1780272000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const table = tablePath(queryRunner)(TABLES.status);
    await queryRunner.addColumns(table, [new TableColumn(text('progress', true)), new TableColumn(text('args', true))]);
    for (const [name, columnNames] of INDEXES)
      await queryRunner.createIndex(table, new TableIndex({ name, columnNames }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const table = tablePath(queryRunner)(TABLES.status);
    for (const [name] of INDEXES) await queryRunner.dropIndex(table, name);
    await queryRunner.dropColumn(table, 'args');
    await queryRunner.dropColumn(table, 'progress');
  }
}

const INDEXES: readonly [string, string[]][] = [
  ['taskq_status_enqueued', ['enqueued_at', 'id']],
  ['taskq_status_state_enqueued', ['state', 'enqueued_at', 'id']],
  ['taskq_status_name_enqueued', ['name', 'enqueued_at', 'id']],
  ['taskq_status_queue_enqueued', ['queue', 'enqueued_at', 'id']],
];

/**
 * Adds the status table's `worker_id`: the worker that made a task's latest
 * start, so `queue.status()` can tell a task whose worker is gone (`lost`).
 */
export class TaskqStatusWorkerId1780000000000 implements MigrationInterface {
  readonly name = 'TaskqStatusWorkerId1780000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      tablePath(queryRunner)(TABLES.status),
      new TableColumn({ name: 'worker_id', type: 'varchar', length: '36', isNullable: true }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn(tablePath(queryRunner)(TABLES.status), 'worker_id');
  }
}

/**
 * Adds `taskq_schedule_ticks`, where `sqlTickClaims()` records each schedule's claimed ticks: its primary key
 * (schedule id, tick time) lets one scheduler claim a tick and every other one see the conflict.
 */
export class TaskqScheduleTicks1780358400000 implements MigrationInterface {
  readonly name = 'TaskqScheduleTicks1780358400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: tablePath(queryRunner)(TABLES.scheduleTicks),
        columns: [
          { name: 'schedule_id', type: 'varchar', length: '200', isPrimary: true },
          { name: 'tick_at', type: 'bigint', isPrimary: true },
          { name: 'task_id', type: 'varchar', length: '36', isNullable: true },
          varchar('spec', '64'),
          epochMs('claimed_at'),
        ],
      }),
      true,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable(tablePath(queryRunner)(TABLES.scheduleTicks), true);
  }
}

/**
 * Adds the status table's `history`: each task's latest starts (attempt, times, worker, outcome, error) as a JSON
 * array, for `get()`'s `history` and the dashboard's timeline.
 */
export class TaskqStatusHistory1780444800000 implements MigrationInterface {
  readonly name = 'TaskqStatusHistory1780444800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(tablePath(queryRunner)(TABLES.status), new TableColumn(text('history', true)));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn(tablePath(queryRunner)(TABLES.status), 'history');
  }
}

function tablePath(queryRunner: QueryRunner): (table: string) => string {
  const schema = (queryRunner.connection.options as { schema?: string }).schema;
  return (table) => (schema ? `${schema}.${table}` : table);
}

/** taskq's migrations, to add to your DataSource's `migrations` when you do not use `synchronize`. */
// A plain array type for the same reason as taskqEntities: TypeORM's `migrations` option takes no readonly arrays.
export const taskqMigrations: (new () => MigrationInterface)[] = Object.freeze([
  TaskqTables1735689600000,
  TaskqOutboxPublishAttempts1767225600000,
  TaskqStatusWorkerId1780000000000,
  TaskqTaskIndex1780272000000,
  TaskqScheduleTicks1780358400000,
  TaskqStatusHistory1780444800000,
]) as (new () => MigrationInterface)[];
