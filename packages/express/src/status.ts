import { pipeline } from 'node:stream';
import { InvalidOptionError, type TaskQueue } from '@taskq/core';
import {
  type AcceptedOptions,
  acceptedAnswer,
  answerTaskStatus,
  EVENT_STREAM_HEADERS,
  resolveStatusRoute,
  type StatusRouteOptions,
  statusEventStream,
  wantsEventStream,
} from '@taskq/http';
import type { Request, RequestHandler, Response } from 'express';

/**
 * Options of {@link taskStatusHandler}: `authorize(req, status)`,
 * `exposeErrors` and `internals` (the status route's options, the same on
 * every adapter), and the route parameter.
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
 * Answers the task's public status as JSON, or 404 for an unknown id and
 * for a task `authorize` refuses. Without `authorize` the id is a bearer
 * token: whoever has it reads the status. A failed task shows its error's
 * code and name, not its message, unless the error is marked public
 * (`expose = true`) or `exposeErrors` is set. The queue needs a result store.
 * Asked for `text/event-stream` (`new EventSource(url)`), it streams the
 * status as server-sent events until the task finished.
 */
export function taskStatusHandler(queue: TaskQueue, options: TaskStatusOptions = {}): RequestHandler {
  const route = resolveStatusRoute(queue, options);
  const param = options.param ?? 'id';
  if (typeof param !== 'string' || param === '')
    throw new InvalidOptionError('param', 'expected a route parameter name');
  return async function taskStatus(req: Request, res: Response): Promise<void> {
    const answer = await answerTaskStatus(route, req, req.params[param]);
    if (answer.status === 200 && wantsEventStream(req.headers.accept)) {
      res.status(200).set(EVENT_STREAM_HEADERS).flushHeaders();
      // pipeline() destroys the stream (and so stops watching) when the client goes away.
      pipeline(statusEventStream(route.queue, answer.body.id, route), res, () => {});
      return;
    }
    res.status(answer.status).set(answer.headers).json(answer.body);
  };
}

/**
 * Answers `202 Accepted` with `Location` pointing at the task's status route
 * (`statusPath`, `'/tasks/:id'` by default, relative to where taskq() is
 * mounted), optionally `Retry-After` (`retryAfter` seconds), and the body
 * `{ task: id }`. Behind taskq() the response (like every response) is held
 * until the request's tasks are committed, so the status route knows the id
 * by the time the client reads it.
 */
export function accepted(res: Response, task: { readonly id: string }, options: AcceptedOptions = {}): void {
  const req = res.req;
  const absoluteUrl =
    typeof req.absoluteUrl === 'function'
      ? (path: string) => req.absoluteUrl(path)
      : (path: string) => `${req.baseUrl}${path}`;
  const answer = acceptedAnswer(task, options, absoluteUrl);
  res.status(answer.status).set(answer.headers).json(answer.body);
}
