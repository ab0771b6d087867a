export { taskqPlugin, requestUnitOfWork } from './plugin.js';
export type { TaskqPluginOptions, StatusRouteOptions } from './options.js';
export type { RequestTaskQueue } from './request-queue.js';
export { taskStatusHandler, accepted, type TaskStatusOptions } from './status.js';
export { AlreadyRegisteredError } from './errors.js';
