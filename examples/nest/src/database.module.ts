import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { createDataSource } from '@taskq/example-story';
import { DataSource } from 'typeorm';
import type { Config } from './config.js';

/** Closes the DataSource in onApplicationShutdown: taskq has drained its worker before any such hook runs. */
@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/**
 * The DataSource: PostgreSQL with `DATABASE_URL`, else SQLite (better-sqlite3),
 * with taskq's tables (outbox, inbox, status, keys) from `taskqEntities`.
 */
@Module({})
export class DatabaseModule {
  /**
   * @param synchronize create the tables at start-up: keeps the example short
   * (an application runs migrations, `taskqMigrations` among them), and only
   * one process should do it, the web app.
   */
  static forRoot(config: Config, synchronize: boolean): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          useFactory: () => createDataSource(config, { synchronize }).initialize(),
        },
        DataSourceCloser,
      ],
      exports: [DataSource],
    };
  }
}
