export { taskq, taskqErrors, requestUnitOfWork } from './middleware.js';
export type { TaskqOptions } from './options.js';
export type { RequestTaskQueue } from './request-queue.js';
export { taskStatusHandler, accepted, type TaskStatusOptions } from './status.js';
export { MountedTwiceError } from './errors.js';
