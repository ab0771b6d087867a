import type { Worker } from '@taskq/core';
import { readConfig } from './config.js';
import { createDataSource } from './database.js';
import { createAppWorker, createTransport } from './taskq.js';

/**
 * The worker for RabbitMQ + PostgreSQL, for the taskq CLI (`taskq worker dist/worker.js` in the Express and
 * Fastify examples). With no TASKQ_URL the examples run their worker inside the web process instead.
 */
export function createExampleWorker(options: { concurrency?: number; queues?: readonly string[] }): Worker {
  const config = readConfig();
  if (!config.brokerUrl)
    throw new Error(
      'a worker in its own process needs RabbitMQ: set TASKQ_URL (without it, `npm start` runs the worker in-process)',
    );
  // The web process creates the tables (synchronize); the worker only uses them.
  const dataSource = createDataSource(config, { synchronize: false });
  const worker = createAppWorker(config, createTransport(config), dataSource, options);
  worker.onStartup(async () => {
    await dataSource.initialize();
  });
  worker.onShutdown(() => dataSource.destroy());
  return worker;
}
