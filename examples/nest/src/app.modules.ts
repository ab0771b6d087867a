import { type DynamicModule, Module } from '@nestjs/common';
import { TaskqModule } from '@taskq/nest';
import { DataSource } from 'typeorm';
import { AppController } from './app.controller.js';
import { CONFIG, type Config } from './config.js';
import { DatabaseModule } from './database.module.js';
import { OutboxRelayService, TaskTransaction, taskqOptions, WorkerLog } from './taskq-setup.js';
import { TasksModule } from './tasks/tasks.module.js';

function shared(config: Config, synchronize: boolean, worker: boolean): NonNullable<DynamicModule['imports']> {
  const database = DatabaseModule.forRoot(config, synchronize);
  const configModule: DynamicModule = {
    module: class ConfigModule {},
    global: true,
    providers: [{ provide: CONFIG, useValue: config }],
    exports: [CONFIG],
  };
  return [
    configModule,
    database,
    TaskqModule.forRootAsync({
      imports: [database],
      inject: [DataSource],
      statusRoute: 'tasks',
      useFactory: (dataSource: DataSource) => taskqOptions(config, dataSource, worker),
    }),
    TasksModule,
  ];
}

/**
 * The web application: the routes of the essay, and `GET /tasks/:id`. With
 * `worker: true` it runs tasks too (the embedded default: the memory
 * transport cannot reach another process).
 */
@Module({})
export class WebModule {
  static forRoot(config: Config, options: { worker: boolean }): DynamicModule {
    return {
      module: WebModule,
      imports: shared(config, true, options.worker),
      controllers: [AppController],
      providers: [OutboxRelayService, WorkerLog, ...(options.worker ? [TaskTransaction] : [])],
    };
  }
}

/**
 * The worker application: no HTTP; the same task providers, each task on this container's instance in its own
 * transaction.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: Config): DynamicModule {
    return { module: WorkerModule, imports: shared(config, false, true), providers: [TaskTransaction, WorkerLog] };
  }
}
