// The register-user story of the Express, Fastify and Nest examples, free of any web framework: each example
// adds only its routes, its server start and its worker entry.
export { type Config, readConfig } from './config.js';
export { createDataSource } from './database.js';
export { type Delivery, deliver, type Sender } from './deliveries.js';
export { updateNotice, welcomeMail } from './messages.js';
export { createAppQueue, createAppWorker, createTransport, logWorkerEvents } from './taskq.js';
export { mail, push, registry, reports } from './tasks/index.js';
export { User } from './user.js';
export {
  announce,
  DASHBOARD_PATH,
  localDeveloper,
  shutdownOnSignals,
  startWebServices,
  type WebServices,
} from './web.js';
export { createExampleWorker } from './worker.js';
