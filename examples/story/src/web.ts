import type { IncomingMessage } from 'node:http';
import { type OutboxRelay, outboxRelay } from '@taskq/typeorm';
import type { DataSource } from 'typeorm';
import type { TaskQueue, Worker } from '@taskq/core';
import type { Config } from './config.js';
import { createDataSource } from './database.js';
import { createAppQueue, createAppWorker, createTransport } from './taskq.js';

/**
 * What the web process runs beside its HTTP server: the database, the queue, the outbox relay and, embedded, the
 * worker.
 */
export interface WebServices {
  readonly dataSource: DataSource;
  readonly queue: TaskQueue;
  /** Drains the worker, then stops the relay and closes the queue and the database, in that order. */
  close(): Promise<void>;
}

/**
 * Opens the web side of the story. With no TASKQ_URL the worker runs in this process (the in-memory transport
 * cannot reach another one); the web process creates the tables (synchronize), the worker only uses them.
 */
export async function startWebServices(config: Config): Promise<WebServices> {
  const dataSource = createDataSource(config, { synchronize: true });
  await dataSource.initialize();
  const transport = createTransport(config);
  const queue = createAppQueue(config, transport, dataSource);
  // Publishes what a crash between a commit and its publish left in the outbox.
  const relay: OutboxRelay = outboxRelay(dataSource, queue);
  await relay.start();
  const worker: Worker | undefined = config.brokerUrl ? undefined : createAppWorker(config, transport, dataSource);
  await worker?.start();
  return {
    dataSource,
    queue,
    close: async () => {
      await worker?.stop({ timeout: 5_000 });
      await relay.stop();
      await queue.close();
      await dataSource.destroy();
    },
  };
}

/** Prints where the web app listens, what it runs on, and a first request to try. */
export function announce(config: Config, url: string): void {
  console.log(`[web] listening on ${url}`);
  console.log(
    `[web] transport: ${config.brokerUrl ? 'RabbitMQ' : 'in-memory (not durable), worker in this process'}; database: ${config.databaseUrl ? 'PostgreSQL' : `SQLite ${config.sqliteFile}`}`,
  );
  console.log(`[web] dashboard: ${url}${DASHBOARD_PATH}/ (from this machine)`);
  console.log(
    `[web] try: curl -X POST ${url}/register -H 'content-type: application/json' -d '{"email":"ada@example.com","name":"Ada"}'`,
  );
}

/** Runs `shutdown` once, on the first SIGINT or SIGTERM. */
export function shutdownOnSignals(shutdown: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[web] ${signal}: closing`);
    void shutdown();
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
}

/** Where the examples mount the dashboard (`@taskq/dashboard`). */
export const DASHBOARD_PATH = '/admin/taskq';

/**
 * The examples' `authorize` for the dashboard: requests from this machine that no proxy forwarded, as the developer
 * running the example. An application checks its own session or role here instead (docs/dashboard.md).
 */
export function localDeveloper(request: IncomingMessage): string | null {
  const address = request.socket.remoteAddress ?? '';
  const local = address === '::1' || /^(::ffff:)?127\./.test(address);
  const forwarded = request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
  return local && !forwarded ? 'developer on localhost' : null;
}
