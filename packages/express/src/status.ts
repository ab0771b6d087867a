import type { Request, RequestHandler, Response } from 'express';
import { InvalidOptionError, publicStatus, TASK_ID_PATTERN, type TaskQueue } from '@taskq/core';

/** Options of {@link taskStatusHandler}. */
export interface TaskStatusOptions {
  /**
   * Also answer the task's registry id, its queue and error names and stacks.
   * Leave off for routes the public can reach.
   * @defaultValue `false`
   */
  readonly internals?: boolean;
  /**
   * Name of the route parameter holding the task id.
   * @defaultValue `'id'`
   */
  readonly param?: string;
}

/**
 * A handler for a status route: `app.get('/tasks/:id', taskStatusHandler(queue))`.
 * Answers the task's status as JSON (see {@link PublicTaskStatus}), or 404
 * for an unknown id. The queue needs a result store.
 */
export function taskStatusHandler(queue: TaskQueue, options: TaskStatusOptions = {}): RequestHandler {
  if (typeof queue?.status !== 'function') throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue(...)');
  if (!queue.store) throw new InvalidOptionError('queue', 'the status route needs a queue with a result store: createQueue({ store })');
  const internals = options.internals ?? false;
  if (typeof internals !== 'boolean') throw new InvalidOptionError('internals', `expected a boolean, got ${JSON.stringify(internals)}`);
  const param = options.param ?? 'id';
  if (typeof param !== 'string' || param === '') throw new InvalidOptionError('param', 'expected a route parameter name');
  return async function taskStatus(req: Request, res: Response): Promise<void> {
    const id = req.params[param];
    const status = typeof id === 'string' && TASK_ID_PATTERN.test(id) ? await queue.status(id.toLowerCase()) : null;
    res.set('Cache-Control', 'no-store');
    if (!status) {
      res.status(404).json({ error: { code: 'TASKQ_UNKNOWN_TASK', message: 'no task with this id' } });
      return;
    }
    res.json(publicStatus(status, internals));
  };
}

/** Options of {@link accepted}. */
export interface AcceptedOptions {
  /**
   * The status route, `:id` standing for the task id, relative to where
   * taskq() is mounted. Location is absolute when taskq() is mounted.
   * @defaultValue `'/tasks/:id'`
   */
  readonly statusPath?: string;
  /** Seconds the client should wait before asking (the `Retry-After` header). */
  readonly retryAfter?: number;
}

/**
 * Answers `202 Accepted` with `Location` pointing at the task's status route
 * and the body `{ task: id }`. Behind taskq() the response (like every
 * response) is held until the request's tasks are committed, so the status
 * route knows the id by the time the client reads it.
 */
export function accepted(res: Response, task: { readonly id: string }, options: AcceptedOptions = {}): void {
  const statusPath = options.statusPath ?? '/tasks/:id';
  if (typeof statusPath !== 'string' || !statusPath.startsWith('/') || !statusPath.includes(':id')) {
    throw new InvalidOptionError('statusPath', `expected a path starting with '/' that contains ':id', got ${JSON.stringify(statusPath)}`);
  }
  const { retryAfter } = options;
  if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new InvalidOptionError('retryAfter', `expected a whole number of seconds, got ${retryAfter}`);
  }
  const path = statusPath.replace(':id', encodeURIComponent(task.id));
  const req = res.req;
  res.status(202).location(typeof req.absoluteUrl === 'function' ? req.absoluteUrl(path) : `${req.baseUrl}${path}`);
  if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
  res.json({ task: task.id });
}
