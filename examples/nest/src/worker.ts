// The worker process: `TASKQ_URL=amqp://... DATABASE_URL=postgres://... node dist/worker.js`; SIGTERM drains in-flight tasks.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WorkerModule } from './app.modules.js';
import { describeServices, readConfig } from './config.js';

const config = readConfig();
if (!config.brokerUrl) {
  process.stderr.write('worker.js needs TASKQ_URL; for the embedded default run start.js\n');
  process.exit(2);
}
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: ['error', 'warn', 'log'] });
app.enableShutdownHooks();
process.stdout.write(`worker running (${describeServices(config)})\n`);
