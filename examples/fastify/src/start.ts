// `npm run start -w examples/fastify`: the web app. With no TASKQ_URL/DATABASE_URL it needs no services: the
// in-memory transport, SQLite in memory, and the worker in this process. With them, run `npm run worker` next to it.
import { outbox } from '@taskq/typeorm';
import { createApp } from './app.js';
import { readConfig } from './config.js';
import { createDataSource } from './database.js';
import { createAppQueue, createAppWorker, createTransport } from './taskq.js';

const config = readConfig();
const dataSource = createDataSource(config, { synchronize: true });
await dataSource.initialize();
const transport = createTransport(config);
const queue = createAppQueue(config, transport, dataSource);
// Publishes what a crash between a commit and its publish left in the outbox.
const relay = outbox(dataSource, queue);
await relay.start();
const worker = config.brokerUrl ? undefined : createAppWorker(config, transport, dataSource);
await worker?.start();

const app = await createApp(queue, dataSource);
const address = await app.listen({ port: config.port, host: config.host });
console.log(`[web] listening on ${address}`);
console.log(`[web] transport: ${config.brokerUrl ? 'RabbitMQ' : 'in-memory (not durable), worker in this process'}; database: ${config.databaseUrl ? 'PostgreSQL' : `SQLite ${config.sqliteFile}`}`);
console.log(`[web] try: curl -X POST ${address}/register -H 'content-type: application/json' -d '{"email":"ada@example.com","name":"Ada"}'`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`[web] ${signal}: closing`);
  // Waits for in-flight requests (each commits before it answers), then the plugin's onClose.
  await app.close();
  await worker?.stop({ timeout: 5_000 });
  await relay.stop();
  await queue.close();
  await dataSource.destroy();
}
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
