import { ContextIdFactory, type ModuleRef } from '@nestjs/core';
import { maybeCurrentTask, type TaskFunction } from '@taskq/core';
import type { DiscoveredTask } from './task-explorer.js';

type Method = (...args: unknown[]) => unknown;

/**
 * The function the worker registers under a `@Task()` method's id. The
 * worker calls task functions without `this`, so this one supplies it: the
 * provider's instance from the container (looked up by property, exactly as
 * a direct call `this.mail.sendWelcome(user)` does), or for a request-scoped
 * or transient provider a fresh instance per task, resolved in its own DI
 * context whose `REQUEST` is the running task (`CurrentTask`).
 */
export function createTaskInvoker(task: DiscoveredTask, moduleRef: ModuleRef): TaskFunction {
  const { instance, methodName } = task;
  const invoke = instance
    ? (...args: unknown[]): unknown => (instance as Record<string, Method>)[methodName](...args)
    : async (...args: unknown[]): Promise<unknown> => {
        const contextId = ContextIdFactory.create();
        moduleRef.registerRequestByContextId(maybeCurrentTask() ?? {}, contextId);
        const scoped = await moduleRef.resolve<object>(task.token, contextId, { strict: false });
        return (scoped as Record<string, Method>)[methodName](...args);
      };
  // Named after the task, so core's messages and stack traces point at the method, not at this wrapper.
  Object.defineProperty(invoke, 'name', { value: `${task.className}.${methodName}` });
  return invoke;
}
