/** Name of the queue `@InjectQueue()` injects when no name is given; tasks go to the logical queue `default`. */
export const DEFAULT_QUEUE_NAME = 'default';

/**
 * The injection token of a queue declared in `TaskqModule.forRoot({ queues })`
 * (the default queue without a name). Use it in custom providers and in
 * `Test.createTestingModule(...).overrideProvider(getQueueToken('mail'))`.
 */
export function getQueueToken(name: string = DEFAULT_QUEUE_NAME): string {
  return `TaskqQueue:${name}`;
}

/**
 * The injection token of the worker that `TaskqModule.forRoot({ worker })`
 * runs (a `Worker` from @taskq/core, or `null` when the module has no
 * worker). Inject it with `@InjectWorker()`.
 */
export function getWorkerToken(): string {
  return 'TaskqWorker';
}

/** @internal Options returned by a `forRootAsync` factory, before validation. */
export const TASKQ_ASYNC_OPTIONS = 'TaskqAsyncOptions';

/** @internal The status route's path (`'/tasks'`), or null without one. */
export const TASKQ_STATUS_PATH = 'TaskqStatusPath';

/** @internal The queues one `TaskqModule.forFeature()` declares (a value provider in that module). */
export const TASKQ_FEATURE_QUEUES = 'TaskqFeatureQueues';
