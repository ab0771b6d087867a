export { taskqPlugin, requestTransaction } from './plugin.js';
export type { TaskqPluginOptions, StatusRouteOptions } from './options.js';
export type { RequestTaskQueue } from './request-queue.js';
export type { RequestTransaction, RequestTransactionFactory } from './transaction.js';
export { taskStatusHandler, accepted, type TaskStatusOptions, type AcceptedOptions } from './status.js';
/** The status route's JSON, from @taskq/core (shared by the HTTP adapters). */
export type { PublicTaskStatus } from '@taskq/core';
export { fastifyUrlContext } from './url-context.js';
export { AlreadyRegisteredError, NoRequestTransactionError } from './errors.js';
export { UnitOfWorkSettledError, BoundQueueMisuseError, CommitFailedError, BadRequestHostError, plainTransaction } from '@taskq/core';
