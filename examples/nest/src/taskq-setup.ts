import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { amqp, memory, type TaskContext, type TaskMiddleware, type TaskQueue } from '@taskq/core';
import { InjectQueue, type TaskqMiddleware, type TaskqModuleOptions } from '@taskq/nest';
import { entityCodec, type OutboxRelay, openRequestTransaction, outbox, sqlResultStore, typeormTransaction } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import type { ExampleConfig } from './config.js';

/** Named routes a task can build links to, with the request it was given. */
export const ROUTES = { user: '/users/:id' } as const;

/**
 * The module options, the same in web and worker processes except for
 * `worker`. Entities travel by key (entity codec); statuses live in the
 * database (SQL result store); each POST/PUT/PATCH/DELETE request runs in a
 * database transaction whose tasks go through the outbox, so they are
 * published if and only if it commits.
 */
export function taskqOptions(config: ExampleConfig, dataSource: DataSource, worker: boolean): TaskqModuleOptions {
  return {
    transport: config.brokerUrl ? amqp({ url: config.brokerUrl, prefix: config.brokerPrefix }) : memory(),
    codecs: [entityCodec(dataSource)],
    store: sqlResultStore(dataSource),
    http: {
      routes: ROUTES,
      // Reads get a plain unit of work; writes a database transaction with the outbox.
      transaction: (queue, request) => ((request as { method?: string }).method === 'GET' ? undefined : openRequestTransaction(dataSource, queue)),
    },
    worker: worker ? { concurrency: 8, middleware: [TaskTransaction] } : undefined,
  };
}

/**
 * Per-task middleware as an injectable class: every task runs in its own
 * database transaction (and is skipped if an earlier delivery of it
 * committed, through the inbox).
 */
@Injectable()
export class TaskTransaction implements TaskqMiddleware {
  readonly #middleware: TaskMiddleware;

  constructor(@Inject(DataSource) dataSource: DataSource, @InjectQueue() queue: TaskQueue) {
    this.#middleware = typeormTransaction(dataSource, { queue });
  }

  use(ctx: TaskContext, next: () => Promise<void>): Promise<void> {
    return this.#middleware(ctx, next);
  }
}

/** Publishes outbox rows a crash left behind between a commit and its publish. Runs in the web process. */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly #relay: OutboxRelay;

  constructor(@Inject(DataSource) dataSource: DataSource, @InjectQueue() queue: TaskQueue) {
    this.#relay = outbox(dataSource, queue);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.#relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.#relay.stop();
  }
}
