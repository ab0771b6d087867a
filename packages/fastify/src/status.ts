import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidOptionError, type TaskQueue } from '@taskq/core';
import {
  type AcceptedOptions,
  acceptedAnswer,
  answerTaskStatus,
  EVENT_STREAM_HEADERS,
  type ResolvedStatusRoute,
  resolveStatusRoute,
  type StatusRouteOptions,
  statusEventStream,
  wantsEventStream,
} from '@taskq/http';
import { stateOf } from './internal/state.js';

/**
 * Options of {@link taskStatusHandler}: `authorize(request, status)`,
 * `exposeErrors` and `internals` (the same on every adapter),
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
 * (or the plugin's `statusRoute` option). Answers the task's public status
 * as JSON, or 404 for an unknown id and for a task
 * `authorize` refuses. Without `authorize` the id is a bearer token: whoever
 * has it reads the status. A failed task shows its error's code and name,
 * not its message, unless the error is marked public (`expose = true`) or
 * `exposeErrors` is set. The queue needs a result store. Asked for
 * `text/event-stream`, it streams the status as server-sent events until
 * the task finished.
 */
export function taskStatusHandler(
  queue: TaskQueue,
  options: TaskStatusOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const param = options.param ?? 'id';
  if (typeof param !== 'string' || param === '')
    throw new InvalidOptionError('param', 'expected a route parameter name');
  return statusHandler(resolveStatusRoute(queue, options), param);
}

/** @internal The handler for an already validated route (the plugin's `statusRoute`). */
export function statusHandler(
  route: ResolvedStatusRoute<FastifyRequest>,
  param = 'id',
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return async function taskStatus(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const answer = await answerTaskStatus(
      route,
      request,
      (request.params as Record<string, unknown> | undefined)?.[param],
    );
    if (answer.status === 200 && wantsEventStream(request.headers.accept))
      // Fastify destroys a stream body (and so stops watching) when the client goes away.
      return reply
        .code(200)
        .headers(EVENT_STREAM_HEADERS)
        .send(statusEventStream(route.queue, answer.body.id, route));
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  };
}

/**
 * Answers `202 Accepted` with `Location` pointing at the task's status route
 * (`statusPath`: by default the plugin's `statusRoute`, else `'/tasks/:id'`,
 * under the plugin's prefix), optionally `Retry-After` (`retryAfter`
 * seconds), and the body `{ task: id }`; `return accepted(reply, task)` from
 * the handler. The plugin commits the request's tasks in `onSend`, before
 * this reply is written, so the status route knows the id by the time the
 * client reads it.
 */
export function accepted(
  reply: FastifyReply,
  task: { readonly id: string },
  options: AcceptedOptions = {},
): FastifyReply {
  const request = reply.request;
  const absoluteUrl =
    typeof request.absoluteUrl === 'function' ? (path: string) => request.absoluteUrl(path) : (path: string) => path;
  const answer = acceptedAnswer(task, options, absoluteUrl, stateOf(request)?.statusPath);
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}
