// `npm run worker -w examples/nest` (node dist/worker.js): the worker for RabbitMQ + PostgreSQL, a Nest application
// context in worker mode. With no TASKQ_URL the example runs its worker inside the web process instead (see start.ts).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WorkerModule } from './app.modules.js';
import { readConfig } from './config.js';

const config = readConfig();
if (!config.brokerUrl) {
  console.error(
    'a worker in its own process needs RabbitMQ: set TASKQ_URL (without it, `npm start` runs the worker in-process)',
  );
  process.exit(2);
}
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn'] });
// SIGTERM: stop consuming, let in-flight tasks finish, then close the context (and the database) and exit 0.
app.enableShutdownHooks([], { useProcessExit: true });
console.log(
  `[worker] started: queue ${config.queueName}, RabbitMQ, ${config.databaseUrl ? 'PostgreSQL' : `SQLite ${config.sqliteFile}`}`,
);
