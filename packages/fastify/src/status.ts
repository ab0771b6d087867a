import type { FastifyReply, FastifyRequest } from 'fastify';
import { answerTaskStatus, InvalidOptionError, type ResolvedStatusRoute, resolveStatusRoute, type StatusRouteOptions, type TaskQueue } from '@taskq/core';
import { stateOf } from './internal/state.js';

/**
 * Options of {@link taskStatusHandler}: `authorize(request, status)`,
 * `exposeErrors` and `internals` (see `StatusRouteOptions` in @taskq/core),
 * and the route parameter.
 */
export interface TaskStatusOptions extends StatusRouteOptions<FastifyRequest> {
  /**
   * Name of the route parameter holding the task id.
   * @defaultValue `'id'`
   */
  readonly param?: string;
}

/**
 * A handler for a status route: `app.get('/tasks/:id', taskStatusHandler(queue, { authorize }))`
 * (or the plugin's `statusRoute` option). Answers the task's status as JSON
 * (see {@link PublicTaskStatus}), or 404 for an unknown id and for a task
 * `authorize` refuses. Without `authorize` the id is a bearer token: whoever
 * has it reads the status. A failed task shows its error's code and name,
 * not its message, unless the error is marked public (`expose = true`) or
 * `exposeErrors` is set. The queue needs a result store.
 */
export function taskStatusHandler(queue: TaskQueue, options: TaskStatusOptions = {}): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const param = options.param ?? 'id';
  if (typeof param !== 'string' || param === '') throw new InvalidOptionError('param', 'expected a route parameter name');
  return statusHandler(resolveStatusRoute(queue, options), param);
}

/** @internal The handler for an already validated route (the plugin's `statusRoute`). */
export function statusHandler(route: ResolvedStatusRoute<FastifyRequest>, param = 'id'): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return async function taskStatus(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const answer = await answerTaskStatus(route, request, (request.params as Record<string, unknown> | undefined)?.[param]);
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  };
}

/** Options of {@link accepted}. */
export interface AcceptedOptions {
  /**
   * The status route, `:id` standing for the task id, relative to the plugin's prefix.
   * @defaultValue the plugin's `statusRoute` path, else `'/tasks/:id'`
   */
  readonly statusPath?: string;
  /** Seconds the client should wait before asking (the `Retry-After` header). */
  readonly retryAfter?: number;
}

/**
 * Answers `202 Accepted` with `Location` pointing at the task's status route
 * and the body `{ task: id }`; `return accepted(reply, task)` from the
 * handler. The plugin commits the request's tasks in `onSend`, before this
 * reply is written, so the status route knows the id by the time the client
 * reads it.
 */
export function accepted(reply: FastifyReply, task: { readonly id: string }, options: AcceptedOptions = {}): FastifyReply {
  const request = reply.request;
  const statusPath = options.statusPath ?? stateOf(request)?.statusPath ?? '/tasks/:id';
  if (typeof statusPath !== 'string' || !statusPath.startsWith('/') || !statusPath.includes(':id')) {
    throw new InvalidOptionError('statusPath', `expected a path starting with '/' that contains ':id', got ${JSON.stringify(statusPath)}`);
  }
  const { retryAfter } = options;
  if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new InvalidOptionError('retryAfter', `expected a whole number of seconds, got ${retryAfter}`);
  }
  const path = statusPath.replace(':id', encodeURIComponent(task.id));
  reply.code(202).header('location', typeof request.absoluteUrl === 'function' ? request.absoluteUrl(path) : path);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply.send({ task: task.id });
}
