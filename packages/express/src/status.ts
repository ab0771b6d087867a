import type { Request, RequestHandler, Response } from 'express';
import { answerTaskStatus, InvalidOptionError, resolveStatusRoute, type StatusRouteOptions, type TaskQueue } from '@taskq/core';

/**
 * Options of {@link taskStatusHandler}: `authorize(req, status)`,
 * `exposeErrors` and `internals` (see `StatusRouteOptions` in @taskq/core),
 * and the route parameter.
 */
export interface TaskStatusOptions extends StatusRouteOptions<Request> {
  /**
   * Name of the route parameter holding the task id.
   * @defaultValue `'id'`
   */
  readonly param?: string;
}

/**
 * A handler for a status route: `app.get('/tasks/:id', taskStatusHandler(queue, { authorize }))`.
 * Answers the task's status as JSON (see {@link PublicTaskStatus}), or 404
 * for an unknown id and for a task `authorize` refuses. Without `authorize`
 * the id is a bearer token: whoever has it reads the status. A failed task
 * shows its error's code and name, not its message, unless the error is
 * marked public (`expose = true`) or `exposeErrors` is set. The queue needs
 * a result store.
 */
export function taskStatusHandler(queue: TaskQueue, options: TaskStatusOptions = {}): RequestHandler {
  const route = resolveStatusRoute(queue, options);
  const param = options.param ?? 'id';
  if (typeof param !== 'string' || param === '') throw new InvalidOptionError('param', 'expected a route parameter name');
  return async function taskStatus(req: Request, res: Response): Promise<void> {
    const answer = await answerTaskStatus(route, req, req.params[param]);
    res.status(answer.status).set(answer.headers).json(answer.body);
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
