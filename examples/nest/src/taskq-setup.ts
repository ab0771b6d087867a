import { Injectable } from '@nestjs/common';
import type { CompletedEvent, DeadEvent } from '@taskq/core';
import { createTransport, User } from '@taskq/example-story';
import { OnTaskEvent, type TaskqModuleOptions } from '@taskq/nest';
import type { TaskqTypeormOptions } from '@taskq/nest/typeorm';
import { entityCodec, sqlResultStore } from '@taskq/typeorm';
import type { DataSource } from 'typeorm';
import type { Config } from './config.js';

/** Named routes: the handler and the tasks it is given the request's URLs build links to them. */
export const ROUTES = { profile: '/users/:id', news: '/news/:slug' } as const;

/**
 * The module options, the same in the web app and the worker except for
 * `worker`: entities travel as references (entity codec), statuses live in
 * the database (shared by both processes). The database transactions (per
 * request, per task) and the outbox relay come from {@link typeormOptions}.
 */
export function taskqOptions(config: Config, dataSource: DataSource, worker: boolean): TaskqModuleOptions {
  return {
    transport: createTransport(config),
    codecs: [entityCodec(dataSource, { entities: [User] })],
    store: sqlResultStore(dataSource),
    defaults: { queue: config.queueName },
    http: { routes: ROUTES },
    worker: worker ? { concurrency: 4, queues: [config.queueName] } : undefined,
  };
}

/**
 * `TaskqTypeormModule.forRoot()`: every request that writes runs in a
 * database transaction whose tasks go through the outbox, each task runs in
 * its own, and the web process runs the outbox relay.
 */
export function typeormOptions(web: boolean): TaskqTypeormOptions {
  return {
    // Reads need no database transaction (and on SQLite must not hold its single connection).
    requestUnitOfWork: { methods: ['POST', 'PUT', 'PATCH', 'DELETE'] },
    relay: web,
  };
}

/** Prints what the worker did, from its lifecycle events. */
@Injectable()
export class WorkerLog {
  @OnTaskEvent('completed')
  completed(event: CompletedEvent): void {
    console.log(`[worker] ${event.name} ${event.id} done in ${Math.round(event.durationMs)} ms`);
  }

  @OnTaskEvent('dead')
  dead(event: DeadEvent): void {
    console.log(`[worker] ${event.name ?? '?'} ${event.id} dead-lettered: ${event.reason}`);
  }
}
