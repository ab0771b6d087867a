import { Inject } from '@nestjs/common';
import { getQueueToken, getWorkerToken } from './tokens.js';

/**
 * Injects a queue declared by `TaskqModule` (the default queue without a
 * name). Type the parameter as `TaskQueue` from @taskq/core: `submit(fn,
 * ...args)` then checks the arguments against the task's parameters.
 *
 * @example
 * ```ts
 * constructor(@InjectQueue() private readonly queue: TaskQueue,
 *             @InjectQueue('mail') private readonly mailQueue: TaskQueue) {}
 * ```
 */
export function InjectQueue(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getQueueToken(name));
}

/** Injects the `Worker` (from @taskq/core) that worker mode runs, or `null` when the module has no worker. */
export function InjectWorker(): PropertyDecorator & ParameterDecorator {
  return Inject(getWorkerToken());
}
