import { amqp, createQueue, createWorker, memory, type TaskQueue, type Transport, type Worker } from '@taskq/core';
import { entityCodec, sqlResultStore, taskTransaction } from '@taskq/typeorm';
import type { DataSource } from 'typeorm';
import type { Config } from './config.js';
import { registry } from './tasks/index.js';
import { User } from './user.js';

/** RabbitMQ with `TASKQ_URL`, else the in-memory transport (not durable; web and worker must share the process). */
export function createTransport(config: Config): Transport {
  return config.brokerUrl ? amqp({ url: config.brokerUrl }) : memory();
}

/**
 * The web side's queue: entities (only those listed) travel as references, status lives in the database (shared with
 * the worker).
 */
export function createAppQueue(config: Config, transport: Transport, dataSource: DataSource): TaskQueue {
  return createQueue({
    registry,
    transport,
    codecs: [entityCodec(dataSource, { entities: [User] })],
    store: sqlResultStore(dataSource),
    defaults: { queue: config.queueName },
  });
}

/** The worker: same registry, codecs and store; each task in its own database transaction. */
export function createAppWorker(
  config: Config,
  transport: Transport,
  dataSource: DataSource,
  options: { concurrency?: number; queues?: readonly string[] } = {},
): Worker {
  const worker = createWorker({
    registry,
    transport,
    codecs: [entityCodec(dataSource, { entities: [User] })],
    store: sqlResultStore(dataSource),
    queues: options.queues ?? [config.queueName],
    concurrency: options.concurrency ?? 4,
  });
  worker.use(taskTransaction(dataSource));
  logWorkerEvents(worker);
  return worker;
}

/** Prints what the worker did, from its lifecycle events. */
export function logWorkerEvents(worker: Worker): void {
  worker.on('completed', (event) =>
    console.log(`[worker] ${event.name} ${event.id} done in ${Math.round(event.durationMs)} ms`),
  );
  worker.on('dead', (event) => console.log(`[worker] ${event.name ?? '?'} ${event.id} dead-lettered: ${event.reason}`));
}
