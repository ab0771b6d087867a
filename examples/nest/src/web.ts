// The web process: `TASKQ_URL=amqp://... DATABASE_URL=postgres://... node dist/web.js` (run dist/worker.js next to it).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WebModule } from './app.modules.js';
import { describeServices, readConfig } from './config.js';

const config = readConfig();
if (!config.brokerUrl) {
  process.stderr.write('web.js needs TASKQ_URL (a worker in another process cannot reach the memory transport); for the embedded default run start.js\n');
  process.exit(2);
}
const app = await NestFactory.create(WebModule.forRoot(config, { worker: false }), { logger: ['error', 'warn', 'log'] });
app.enableShutdownHooks();
await app.listen(config.port, '127.0.0.1');
process.stdout.write(`web listening on ${await app.getUrl()} (${describeServices(config)})\n`);
