import { type DynamicModule, Module } from '@nestjs/common';
import type { TaskQueue } from '@taskq/core';
import { TaskqDashboardModule } from '@taskq/dashboard/nest';
import { DASHBOARD_PATH, localDeveloper, User } from '@taskq/example-story';
import { getQueueToken, TaskqModule } from '@taskq/nest';
import { TaskqTypeormModule } from '@taskq/nest/typeorm';
import { DataSource } from 'typeorm';
import { AppController } from './app.controller.js';
import { CONFIG, type Config } from './config.js';
import { DatabaseModule } from './database.module.js';
import { taskqOptions, typeormOptions, WorkerLog } from './taskq-setup.js';
import { TasksModule } from './tasks/tasks.module.js';

function shared(config: Config, web: boolean, worker: boolean): NonNullable<DynamicModule['imports']> {
  const database = DatabaseModule.forRoot(config, web);
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
    TaskqTypeormModule.forRoot({ imports: [database], ...typeormOptions(web) }),
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
      imports: [
        ...shared(config, true, options.worker),
        TaskqTypeormModule.forFeature([User]),
        TaskqDashboardModule.forRootAsync({
          path: DASHBOARD_PATH,
          inject: [getQueueToken()],
          useFactory: (queue: TaskQueue) => ({ queue, authorize: localDeveloper }),
        }),
      ],
      controllers: [AppController],
      providers: [WorkerLog],
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
    return { module: WorkerModule, imports: shared(config, false, true), providers: [WorkerLog] };
  }
}
