import { type DynamicModule, Module } from '@nestjs/common';
import { TaskqModule } from '@taskq/nest';
import { DataSource } from 'typeorm';
import type { ExampleConfig } from './config.js';
import { DatabaseModule } from './database.module.js';
import { MailModule } from './mail.tasks.js';
import { OutboxRelayService, TaskTransaction, taskqOptions } from './taskq-setup.js';
import { UsersController } from './users.controller.js';

function taskq(config: ExampleConfig, database: DynamicModule, worker: boolean): DynamicModule {
  return TaskqModule.forRootAsync({
    imports: [database],
    inject: [DataSource],
    statusRoute: 'tasks',
    useFactory: (dataSource: DataSource) => taskqOptions(config, dataSource, worker),
  });
}

/**
 * The web application: `POST /users`, `GET /users/:id`, `GET /tasks/:id`.
 * With `worker: true` it runs tasks too (the embedded default, where the
 * memory transport cannot reach another process).
 */
@Module({})
export class WebModule {
  static forRoot(config: ExampleConfig, options: { worker: boolean }): DynamicModule {
    const database = DatabaseModule.forRoot(config, true);
    return {
      module: WebModule,
      imports: [database, taskq(config, database, options.worker), MailModule],
      controllers: [UsersController],
      providers: [OutboxRelayService, ...(options.worker ? [TaskTransaction] : [])],
    };
  }
}

/** The worker application: no HTTP, the same tasks, each on this container's MailTasks in its own transaction. */
@Module({})
export class WorkerModule {
  static forRoot(config: ExampleConfig): DynamicModule {
    const database = DatabaseModule.forRoot(config, false);
    return {
      module: WorkerModule,
      imports: [database, taskq(config, database, true), MailModule],
      providers: [TaskTransaction],
    };
  }
}
