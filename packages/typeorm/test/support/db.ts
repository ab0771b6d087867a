import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { PG_URL, sql } from '../../../../test-support/postgres.js';
import { taskqEntities } from '../../src/index.js';

/** What a DataSource's `entities` option takes. */
type EntityList = NonNullable<DataSourceOptions['entities']>;

export { PG_URL, sql } from '../../../../test-support/postgres.js';

export type DbKind = 'postgres' | 'sqlite';

/**
 * A PostgreSQL schema or a SQLite file of one test file: `dataSource()` opens DataSources on it, `cleanup()` closes
 * them and drops it.
 */
export class TestDatabase {
  readonly kind: DbKind;
  /** PostgreSQL schema name, or SQLite file path. */
  readonly location: string;
  readonly #open: DataSource[] = [];

  private constructor(kind: DbKind, location: string) {
    this.kind = kind;
    this.location = location;
  }

  static async create(kind: DbKind): Promise<TestDatabase> {
    const id = randomUUID().replace(/-/g, '').slice(0, 12);
    if (kind === 'sqlite') return new TestDatabase(kind, join(tmpdir(), `taskq-test-${id}.sqlite`));
    const schema = `taskq_test_${id}`;
    await sql(`CREATE SCHEMA "${schema}"`);
    return new TestDatabase(kind, schema);
  }

  /** A table of this database, quoted and schema-qualified, for raw SQL. */
  table(name: string): string {
    return this.kind === 'postgres' ? `"${this.location}"."${name}"` : `"${name}"`;
  }

  /** `?` or `$n`: the placeholder of parameter `n` (1-based). */
  param(n: number): string {
    return this.kind === 'postgres' ? `$${n}` : '?';
  }

  /** Options to rebuild the same DataSource elsewhere (a child process). */
  get env(): Record<string, string> {
    return this.kind === 'postgres'
      ? { DB_KIND: 'postgres', PG_URL, PG_SCHEMA: this.location }
      : { DB_KIND: 'sqlite', SQLITE_FILE: this.location };
  }

  /** An initialized DataSource with taskq's tables and `entities`; the first one synchronizes the schema. */
  async dataSource(
    entities: EntityList = [],
    options: { synchronize?: boolean; poolSize?: number } = {},
  ): Promise<DataSource> {
    const dataSource = openDataSource(
      this.env,
      entities,
      options.synchronize ?? this.#open.length === 0,
      options.poolSize,
    );
    await dataSource.initialize();
    this.#open.push(dataSource);
    return dataSource;
  }

  async cleanup(): Promise<void> {
    for (const dataSource of this.#open.splice(0)) if (dataSource.isInitialized) await dataSource.destroy();
    if (this.kind === 'postgres') await sql(`DROP SCHEMA IF EXISTS "${this.location}" CASCADE`);
    else for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${this.location}${suffix}`, { force: true });
  }
}

/** Builds (not initializes) the DataSource described by `env` (see `TestDatabase.env`); used by child fixtures too. */
export function openDataSource(
  env: Record<string, string | undefined>,
  entities: EntityList = [],
  synchronize = false,
  poolSize = 10,
): DataSource {
  const all = [...(Array.isArray(entities) ? entities : Object.values(entities)), ...taskqEntities] as EntityList;
  if (env.DB_KIND === 'sqlite') {
    return new DataSource({
      type: 'better-sqlite3',
      database: env.SQLITE_FILE as string,
      entities: all,
      synchronize,
      enableWAL: true,
      logging: false,
    });
  }
  return new DataSource({
    type: 'postgres',
    url: env.PG_URL,
    schema: env.PG_SCHEMA,
    entities: all,
    synchronize,
    poolSize,
    logging: false,
  });
}
