import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { TaskContext, TaskMiddleware, TaskQueue, Worker } from '@taskq/core';
import { createTransport, logWorkerEvents, User } from '@taskq/example-story';
import { InjectQueue, InjectWorker, type TaskqMiddleware, type TaskqModuleOptions } from '@taskq/nest';
import {
  entityCodec,
  type OutboxRelay,
  databaseUnitOfWork,
  outboxRelay,
  sqlResultStore,
  taskTransaction,
} from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import type { Config } from './config.js';

/** Named routes: the handler and the tasks it is given the request's URLs build links to them. */
export const ROUTES = { profile: '/users/:id', news: '/news/:slug' } as const;

/**
 * The module options, the same in the web app and the worker except for
 * `worker`: entities travel as references (entity codec), statuses live in
 * the database (shared by both processes), and every request that writes
 * runs in a database transaction whose tasks go through the outbox.
 */
export function taskqOptions(config: Config, dataSource: DataSource, worker: boolean): TaskqModuleOptions {
  return {
    transport: createTransport(config),
    codecs: [entityCodec(dataSource, { entities: [User] })],
    store: sqlResultStore(dataSource),
    defaults: { queue: config.queueName },
    http: {
      routes: ROUTES,
      // Reads need no database transaction (and on SQLite must not hold its single connection).
      unitOfWork: (queue, request) =>
        (request as { method?: string }).method === 'GET' ? undefined : databaseUnitOfWork(dataSource, queue),
    },
    worker: worker ? { concurrency: 4, queues: [config.queueName], middleware: [TaskTransaction] } : undefined,
  };
}

/** Per-task middleware as an injectable class: each task runs in its own database transaction. */
@Injectable()
export class TaskTransaction implements TaskqMiddleware {
  readonly #middleware: TaskMiddleware;

  constructor(@Inject(DataSource) dataSource: DataSource, @InjectQueue() queue: TaskQueue) {
    this.#middleware = taskTransaction(dataSource, { queue });
  }

  use(ctx: TaskContext, next: () => Promise<void>): Promise<void> {
    return this.#middleware(ctx, next);
  }
}

/** Prints what the worker did, from its lifecycle events. */
@Injectable()
export class WorkerLog implements OnModuleInit {
  constructor(@InjectWorker() private readonly worker: Worker | null) {}

  onModuleInit(): void {
    if (this.worker) logWorkerEvents(this.worker);
  }
}

/** Publishes what a crash between a commit and its publish left in the outbox. Runs in the web process. */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly #relay: OutboxRelay;

  constructor(@Inject(DataSource) dataSource: DataSource, @InjectQueue() queue: TaskQueue) {
    this.#relay = outboxRelay(dataSource, queue);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.#relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.#relay.stop();
  }
}
