// `npm run start -w examples/express`: the web app. With no TASKQ_URL/DATABASE_URL it needs no services: the
// in-memory transport, SQLite in memory, and the worker in this process. With them, run `npm run worker` next to it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, readConfig, shutdownOnSignals, startWebServices } from '@taskq/example-story';
import { createApp } from './app.js';

const config = readConfig();
const services = await startWebServices(config);

const app = createApp(services.queue, services.dataSource);
const server: Server = app.listen(config.port, config.host);
await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
const { port } = server.address() as AddressInfo;
announce(config, `http://${config.host}:${port}`);

shutdownOnSignals(async () => {
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await services.close();
});
