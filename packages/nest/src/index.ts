export { TaskqModule } from './taskq.module.js';
export type {
  TaskqModuleOptions,
  TaskqModuleAsyncOptions,
  TaskqOptionsFactory,
  TaskqStaticOptions,
  TaskqQueueDefinition,
  TaskqFeatureOptions,
  TaskqWorkerOptions,
  TaskqWorkerQueue,
  TaskqHttpOptions,
} from './options.js';
export { DEFAULT_QUEUE_NAME, getQueueToken, getWorkerToken } from './tokens.js';
export { InjectQueue, InjectWorker } from './inject-queue.decorator.js';
export { Task, getTaskMetadata, type TaskMethodOptions, type TaskMetadata } from './task.decorator.js';
export {
  OnTaskEvent,
  getTaskEventMetadata,
  type OnTaskEventOptions,
  type TaskEventMetadata,
  type TaskEventName,
} from './task-event.decorator.js';
export type { TaskqMiddleware, TaskqMiddlewareEntry } from './middleware.js';
export { TaskqUnitOfWorkInterceptor } from './unit-of-work.interceptor.js';
export { CurrentUnitOfWork, requestUnitOfWork } from './current-unit-of-work.decorator.js';
export { Accepted } from './accepted.decorator.js';
export { RequestUrls } from './request-urls.decorator.js';
export { taskqCliWorker, type ApplicationContextOptions } from './cli.js';
export type { CliOverrides } from './internal/cli-context.js';
export {
  TaskDeclarationError,
  AmbiguousTaskProviderError,
  DuplicateTaskqModuleError,
  MiddlewareResolutionError,
  NoRequestContextError,
  AcceptedResultError,
  UndeclaredQueueError,
  TaskEventHandlerError,
  TypeormIntegrationError,
} from './errors.js';
