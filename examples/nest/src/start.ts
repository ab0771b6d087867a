// `npm start -w examples/nest`: the web app. With no TASKQ_URL/DATABASE_URL it needs no services: the in-memory
// transport, SQLite in memory, and the worker in this process. With them, run `npm run worker` next to it.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { announce } from '@taskq/example-story';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WebModule } from './app.modules.js';
import { readConfig } from './config.js';

const config = readConfig();
const app = await NestFactory.create<NestExpressApplication>(WebModule.forRoot(config, { worker: !config.brokerUrl }), {
  logger: ['error', 'warn'],
});
app.set('trust proxy', 'loopback'); // behind a local reverse proxy, links follow X-Forwarded-Proto/Host
// SIGTERM/SIGINT: stop taking requests, drain the in-process worker, close the queue and the database, exit 0.
app.enableShutdownHooks([], { useProcessExit: true });
await app.listen(config.port, config.host);
const url = (await app.getUrl()).replace('[::1]', 'localhost');
announce(config, url);
