import { AsyncResource } from 'node:async_hooks';
import { outsideScopes } from './scope.js';

// Created while this module is evaluated, at start-up, outside any request or
// task: its async context holds no AsyncLocalStorage store (taskq's unit of
// work, its transaction scopes, an application's own request context).
const root = new AsyncResource('taskq.maintenance');

/**
 * Runs `fn` in that start-up context, so timers it creates, and everything
 * they run later, belong to no request or task: a periodic job started by a
 * write inside a request must not keep (or use) that request's transaction.
 * taskq's own scopes are also exited explicitly, in case this module was
 * first imported inside one.
 */
export function detached<T>(fn: () => T): T {
  return root.runInAsyncScope(() => outsideScopes(fn));
}
