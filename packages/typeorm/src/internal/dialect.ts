import { InvalidOptionError } from '@taskq/core';
import type { DataSource, EntityManager, EntitySchema } from 'typeorm';
import { TypeormSetupError } from '../errors.js';

/** The SQL flavours the outbox, inbox and result store speak. */
export type Dialect = 'postgres' | 'sqlite';

/** Checks that `dataSource` is a DataSource on a supported database; `option` names it in the error. */
export function dialectOf(dataSource: DataSource, option: string): Dialect {
  if (!dataSource || typeof dataSource.createQueryRunner !== 'function' || typeof dataSource.options !== 'object') {
    throw new InvalidOptionError(option, 'expected a TypeORM DataSource');
  }
  const type = dataSource.options.type;
  if (type === 'postgres') return 'postgres';
  if (type === 'better-sqlite3') return 'sqlite';
  throw new InvalidOptionError(
    option,
    `the outbox, inbox and SQL result store support PostgreSQL ("postgres") and SQLite ("better-sqlite3"), not "${type}"`,
  );
}

/** Rows and affected-row count of one statement. */
export interface SqlResult {
  readonly rows: Record<string, unknown>[];
  readonly affected: number;
}

/**
 * Runs hand-written SQL (with `?` placeholders) through a manager: on its
 * transaction's connection when it has one, else on a pooled connection.
 * Hand-written because the guarantees hang on the exact statements
 * (`FOR UPDATE SKIP LOCKED`, `ON CONFLICT`, `RETURNING`).
 */
export async function execute(
  dialect: Dialect,
  manager: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<SqlResult> {
  let text = sql;
  if (dialect === 'postgres') {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
  }
  const owned = manager.queryRunner === undefined;
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const result = await runner.query(text, [...params], true);
    return { rows: (result.records ?? []) as Record<string, unknown>[], affected: result.affected ?? 0 };
  } finally {
    if (owned) await runner.release();
  }
}

/** `?, ?, ?` for an IN list. */
export function placeholders(count: number): string {
  return new Array<string>(count).fill('?').join(', ');
}

/** The quoted, schema-qualified name of one of taskq's tables; fails clearly when the entities were not added. */
export function tableOf(dataSource: DataSource, entity: EntitySchema): string {
  if (!dataSource.isInitialized)
    throw new TypeormSetupError('the DataSource is not initialized: call dataSource.initialize() first');
  const name = entity.options.name;
  if (!dataSource.hasMetadata(name)) {
    throw new TypeormSetupError(
      `the DataSource has no entity ${name}: add taskq's tables with new DataSource({ entities: [...yourEntities, ...taskqEntities] })`,
    );
  }
  const metadata = dataSource.getMetadata(name);
  const quote = (identifier: string): string => `"${identifier.replace(/"/g, '""')}"`;
  return metadata.schema ? `${quote(metadata.schema)}.${quote(metadata.tableName)}` : quote(metadata.tableName);
}

/** Reads a bigint column (pg returns strings). */
export function toMs(value: unknown): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}
