export { taskq, taskqErrors, requestTransaction } from './middleware.js';
export type { TaskqOptions } from './options.js';
export type { RequestTaskQueue } from './request-queue.js';
export type { RequestTransaction, RequestTransactionFactory } from './transaction.js';
export { taskStatusHandler, accepted, type TaskStatusOptions, type AcceptedOptions } from './status.js';
export type { PublicTaskStatus } from './internal/public-status.js';
export { expressUrlContext } from './url-context.js';
export {
  MountedTwiceError,
  RequestSettledError,
  RequestQueueMisuseError,
  NoRequestTransactionError,
  BadRequestHostError,
  CommitFailedError,
} from './errors.js';
