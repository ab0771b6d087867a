import { Inject } from '@nestjs/common';
import { DEFAULT_QUEUE_NAME, getQueueToken, getWorkerToken } from './tokens.js';

/**
 * Every name `@InjectQueue(name)` was written with in this process, and the classes that wrote it. The decorator runs
 * when a class is defined, before Nest scans any module, so `TaskqModule` can give each name a fallback provider that
 * explains what to declare instead of Nest's generic "can't resolve dependencies".
 */
const injectedQueues = new Map<string, Set<string>>();

/** @internal The queue names `@InjectQueue()` has been used with so far, and by which classes. */
export function injectedQueueNames(): ReadonlyMap<string, ReadonlySet<string>> {
  return injectedQueues;
}

/**
 * Injects a queue declared by `TaskqModule` (the default queue without a
 * name): in `TaskqModule.forRoot({ queues })`, or in a
 * `TaskqModule.forFeature({ queues })` that the provider's module imports.
 * Type the parameter as `TaskQueue` from @taskq/core: `submit(fn, ...args)`
 * then checks the arguments against the task's parameters.
 *
 * @example
 * ```ts
 * constructor(@InjectQueue() private readonly queue: TaskQueue,
 *             @InjectQueue('mail') private readonly mailQueue: TaskQueue) {}
 * ```
 */
export function InjectQueue(name?: string): PropertyDecorator & ParameterDecorator {
  const inject = Inject(getQueueToken(name));
  return (target: object, key: string | symbol | undefined, index?: number) => {
    if (name !== undefined && name !== DEFAULT_QUEUE_NAME) {
      const owner = typeof target === 'function' ? target : target.constructor;
      const users = injectedQueues.get(name) ?? new Set<string>();
      users.add(owner?.name || 'an anonymous class');
      injectedQueues.set(name, users);
    }
    if (index === undefined) (inject as PropertyDecorator)(target, key as string | symbol);
    else (inject as ParameterDecorator)(target, key, index);
  };
}

/**
 * Injects the `Worker` (from @taskq/core) that worker mode runs, or `null` when the module has no worker. With
 * per-queue concurrency the context runs several workers: this is the one for the queues without a setting of their
 * own, and starting or stopping it starts or stops the others.
 */
export function InjectWorker(): PropertyDecorator & ParameterDecorator {
  return Inject(getWorkerToken());
}
