/**
 * Parent side of the outbox rows: one fresh PostgreSQL schema `bench_<random>`
 * per measurement, with taskq's tables (created by `taskqMigrations`, as an
 * application would) and the bench's own table, dropped afterwards. Schemas
 * not yet dropped are remembered so Ctrl-C can drop them too.
 */
import { randomUUID } from 'node:crypto';
import { taskqEntities, taskqMigrations } from '@taskq/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { withTimeout } from './clock.js';
import { BENCH_TABLE, PG_URL } from './config.js';

const created = new Set<string>();

async function sql(text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** Creates the schema, runs taskq's migrations in it and adds the bench table; returns its name. */
export async function createBenchSchema(): Promise<string> {
  const schema = `bench_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  created.add(schema);
  await sql(`CREATE SCHEMA "${schema}"`);
  const dataSource = new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema,
    entities: taskqEntities,
    migrations: taskqMigrations,
    poolSize: 2,
    logging: false,
  });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'all' });
    await dataSource.query(
      `CREATE TABLE "${schema}"."${BENCH_TABLE}" ("id" bigserial PRIMARY KEY, "sent_at" double precision NOT NULL, "note" text NOT NULL)`,
    );
  } finally {
    await dataSource.destroy();
  }
  return schema;
}

/** Rows still in the schema's outbox table (0 once everything was published). */
export async function outboxRows(schema: string): Promise<number> {
  const result = await sql(`SELECT COUNT(*) AS n FROM "${schema}"."taskq_outbox"`);
  return Number((result.rows[0] as { n: string }).n);
}

/** The `application_name` the measurement's pool gives its PostgreSQL connections. */
export function applicationNameOf(schema: string): string {
  return `taskq-${schema}`;
}

/**
 * Pids of the client backends that are not the measurement's (other clients of the shared server, this query's own
 * connection): their CPU is left out of the measurement's PostgreSQL CPU. Background processes (WAL writer,
 * checkpointer, autovacuum) are kept: they do the measurement's work too.
 */
export async function foreignBackends(applicationName: string): Promise<Set<number>> {
  const result = await sql(
    `SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> '${applicationName.replace(/'/g, "''")}'`,
  );
  return new Set(result.rows.map((row: { pid: number }) => Number(row.pid)));
}

/** Rows in the schema's bench table (the baseline's check that every transaction committed). */
export async function benchRows(schema: string): Promise<number> {
  const result = await sql(`SELECT COUNT(*) AS n FROM "${schema}"."${BENCH_TABLE}"`);
  return Number((result.rows[0] as { n: string }).n);
}

/** Drops only this schema (the database is shared with other suites). */
export async function dropBenchSchema(schema: string, timeoutMs: number): Promise<void> {
  await withTimeout(sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`), timeoutMs, `drop schema ${schema}`);
  created.delete(schema);
}

/** Drops every schema this bench created and has not dropped yet (used on Ctrl-C). */
export async function dropCreatedSchemas(timeoutMs: number): Promise<void> {
  for (const schema of [...created]) await dropBenchSchema(schema, timeoutMs).catch(() => undefined);
}
