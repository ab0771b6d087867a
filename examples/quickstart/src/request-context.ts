import { AsyncLocalStorage } from 'node:async_hooks';
import { maybeCurrentTask } from '@taskq/core';
import { say } from './print.js';

/** What the app knows about the request it is serving (a web framework would fill this in). */
export interface RequestScope {
  readonly requestId?: string;
}

/**
 * The app's own request scope, an AsyncLocalStorage like many web apps have.
 * The web side fills it per request; a submit middleware copies the request id
 * into the task's `meta`, and a worker middleware restores it around the task.
 */
export const requestContext = new AsyncLocalStorage<RequestScope>();

/** The app's logger: each line says which task (and attempt) and which request it belongs to. */
export function log(message: string): void {
  const task = maybeCurrentTask();
  const requestId = requestContext.getStore()?.requestId;
  const where = task ? `${task.name} attempt ${task.attempt}` : 'direct call';
  say('log', `${where}${requestId ? ` [request ${requestId}]` : ''}: ${message}`);
}
