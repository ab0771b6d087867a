import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { taskqEntities } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import type { ExampleConfig } from './config.js';
import { User } from './user.entity.js';

/** Closes the DataSource last: taskq drains its worker before any onApplicationShutdown hook runs. */
@Injectable()
class DataSourceCloser implements OnApplicationShutdown {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The application's DataSource: PostgreSQL with DATABASE_URL, else SQLite; taskq's tables (outbox, inbox, status) next to `users`. */
@Module({})
export class DatabaseModule {
  /**
   * @param synchronize create the tables at start-up (the example's shortcut;
   * an application runs migrations, `taskqMigrations` among them). Only one
   * process should do it: the web app.
   */
  static forRoot(config: ExampleConfig, synchronize: boolean): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: DataSource,
          useFactory: async () => {
            const entities = [User, ...taskqEntities];
            const dataSource = config.databaseUrl
              ? new DataSource({ type: 'postgres', url: config.databaseUrl, entities, synchronize, logging: false })
              : new DataSource({ type: 'better-sqlite3', database: config.sqliteFile, entities, synchronize: true, logging: false });
            return dataSource.initialize();
          },
        },
        DataSourceCloser,
      ],
      exports: [DataSource],
    };
  }
}
