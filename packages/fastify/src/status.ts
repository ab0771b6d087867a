import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidOptionError, type PublicTaskStatus, publicStatus, TASK_ID_PATTERN, type TaskQueue } from '@taskq/core';
import { stateOf } from './internal/state.js';

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
 * A handler for a status route: `app.get('/tasks/:id', taskStatusHandler(queue))`
 * (or the plugin's `statusRoute` option). Answers the task's status as JSON
 * (see {@link PublicTaskStatus}), or 404 for an unknown id. The queue needs a
 * result store.
 */
export function taskStatusHandler(queue: TaskQueue, options: TaskStatusOptions = {}): (request: FastifyRequest, reply: FastifyReply) => Promise<PublicTaskStatus | FastifyReply> {
  if (typeof queue?.status !== 'function') throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue(...)');
  if (!queue.store) throw new InvalidOptionError('queue', 'the status route needs a queue with a result store: createQueue({ store })');
  const internals = options.internals ?? false;
  if (typeof internals !== 'boolean') throw new InvalidOptionError('internals', `expected a boolean, got ${JSON.stringify(internals)}`);
  const param = options.param ?? 'id';
  if (typeof param !== 'string' || param === '') throw new InvalidOptionError('param', 'expected a route parameter name');
  return async function taskStatus(request: FastifyRequest, reply: FastifyReply): Promise<PublicTaskStatus | FastifyReply> {
    const id = (request.params as Record<string, unknown> | undefined)?.[param];
    const status = typeof id === 'string' && TASK_ID_PATTERN.test(id) ? await queue.status(id.toLowerCase()) : null;
    reply.header('cache-control', 'no-store');
    if (!status) return reply.code(404).send({ error: { code: 'TASKQ_UNKNOWN_TASK', message: 'no task with this id' } });
    return publicStatus(status, internals);
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
