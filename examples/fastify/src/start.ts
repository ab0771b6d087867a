// `npm run start -w examples/fastify`: the web app. With no TASKQ_URL/DATABASE_URL it needs no services: the
// in-memory transport, SQLite in memory, and the worker in this process. With them, run `npm run worker` next to it.
import { announce, readConfig, shutdownOnSignals, startWebServices } from '@taskq/example-story';
import { createApp } from './app.js';

const config = readConfig();
const services = await startWebServices(config);

const app = await createApp(services.queue, services.dataSource);
announce(config, await app.listen({ port: config.port, host: config.host }));

shutdownOnSignals(async () => {
  // Waits for in-flight requests (each commits before it answers), then the plugin's onClose.
  await app.close();
  await services.close();
});
