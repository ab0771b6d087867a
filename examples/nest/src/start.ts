// `npm start`: the whole story in one process, with no services (memory transport, SQLite in memory),
// or on RabbitMQ/PostgreSQL when TASKQ_URL/DATABASE_URL are set.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WebModule } from './app.modules.js';
import { describeServices, readConfig } from './config.js';

const config = readConfig();
const app = await NestFactory.create(WebModule.forRoot(config, { worker: true }), { logger: ['error', 'warn', 'log'] });
app.enableShutdownHooks();
await app.listen(config.port, '127.0.0.1');
const url = await app.getUrl();
process.stdout.write(`web + worker listening on ${url} (${describeServices(config)})
try:
  curl -i -X POST ${url}/users -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}'
  curl -i ${url}/tasks/<id from the Location header>
  curl -i -X POST '${url}/users?fail=after-submit' -H 'content-type: application/json' -d '{"name":"Bob","email":"bob@example.com"}'
`);
