// The worker entry for RabbitMQ + PostgreSQL: `npm run worker` (taskq worker dist/worker.js). With no TASKQ_URL the
// example runs its worker inside the web process instead (see start.ts).
import type { Worker } from '@taskq/core';
import { readConfig } from './config.js';
import { createDataSource } from './database.js';
import { createAppWorker, createTransport } from './taskq.js';

export default function createExampleWorker(options: { concurrency?: number; queues?: readonly string[] }): Worker {
  const config = readConfig();
  if (!config.brokerUrl) throw new Error('a worker in its own process needs RabbitMQ: set TASKQ_URL (without it, `npm start` runs the worker in-process)');
  // The web process creates the tables (synchronize); the worker only uses them.
  const dataSource = createDataSource(config, { synchronize: false });
  const worker = createAppWorker(config, createTransport(config), dataSource, options);
  worker.onStartup(async () => {
    await dataSource.initialize();
  });
  worker.onShutdown(() => dataSource.destroy());
  return worker;
}
