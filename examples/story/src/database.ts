import 'reflect-metadata';
import { taskqEntities } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from './config.js';
import { User } from './user.js';

/**
 * PostgreSQL with `DATABASE_URL`, else SQLite (better-sqlite3). taskq's
 * tables (outbox, inbox, status, keys) come with `taskqEntities`.
 * `synchronize` keeps the example short; use migrations (`taskqMigrations`) in an application.
 */
export function createDataSource(config: Config, options: { synchronize: boolean }): DataSource {
  const entities = [User, ...taskqEntities];
  if (config.databaseUrl) {
    return new DataSource({
      type: 'postgres',
      url: config.databaseUrl,
      schema: config.databaseSchema,
      entities,
      synchronize: options.synchronize,
      logging: false,
    });
  }
  return new DataSource({
    type: 'better-sqlite3',
    database: config.sqliteFile,
    entities,
    synchronize: options.synchronize,
    logging: false,
  });
}
