import { InvalidOptionError, type TaskQueue, type TaskStatus } from '@taskq/core';
import { type PublicTaskStatus, publicStatus, TASK_ID_PATTERN } from './public-status.js';

/** Options of a status route, the same on every HTTP adapter. */
export interface StatusRouteOptions<Request> {
  /**
   * Decides whether this request may read this task's status, e.g. whether
   * the signed-in user submitted it. A denied request gets exactly the 404
   * of an unknown id, so it cannot tell the task exists. An error it throws
   * fails the request (the framework answers it).
   *
   * Without it the task id is a bearer token: whoever holds the id reads
   * the status and the result.
   * @defaultValue every request may read every task it knows the id of
   */
  authorize?(request: Request, status: TaskStatus): boolean | Promise<boolean>;
  /**
   * Also answer the task's registry id, its queue and the error's message
   * and stack. Leave off for routes the public can reach.
   * @defaultValue `false`
   */
  readonly internals?: boolean;
  /**
   * Show every failed task's error message, not only those of errors marked
   * public (`expose = true`). By default a failed task shows its error's
   * `code` and `name` only: messages carry connection strings, SQL and other
   * people's data.
   * @defaultValue `false`
   */
  readonly exposeErrors?: boolean;
}

/** {@link StatusRouteOptions} after validation, with the queue it reads. */
export interface ResolvedStatusRoute<Request> {
  readonly queue: TaskQueue;
  readonly authorize: ((request: Request, status: TaskStatus) => boolean | Promise<boolean>) | undefined;
  readonly internals: boolean;
  readonly exposeErrors: boolean;
}

/** What a status route answers; the adapter writes it as JSON with these headers. */
export type StatusAnswer =
  | { readonly status: 200; readonly headers: StatusHeaders; readonly body: PublicTaskStatus }
  | { readonly status: 404; readonly headers: StatusHeaders; readonly body: UnknownTaskBody };

/** Statuses change from one poll to the next: no cache may keep one. */
export type StatusHeaders = { readonly 'cache-control': 'no-store' };

/** The body of a 404: an unknown id, a malformed one, or a task this request may not read. */
export type UnknownTaskBody = { readonly error: { readonly code: 'TASKQ_UNKNOWN_TASK'; readonly message: string } };

const HEADERS: StatusHeaders = Object.freeze({ 'cache-control': 'no-store' });
const UNKNOWN: StatusAnswer = Object.freeze({
  status: 404,
  headers: HEADERS,
  body: { error: { code: 'TASKQ_UNKNOWN_TASK', message: 'no task with this id' } } as const,
});

/**
 * Validates a status route's options once, when the route is built, naming
 * the bad option (`prefix` places it, e.g. `'statusRoute.'`).
 */
export function resolveStatusRoute<Request>(
  queue: TaskQueue,
  options: StatusRouteOptions<Request> = {},
  prefix = '',
): ResolvedStatusRoute<Request> {
  if (typeof queue?.status !== 'function')
    throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue(...)');
  if (!queue.store)
    throw new InvalidOptionError('queue', 'the status route needs a queue with a result store: createQueue({ store })');
  return { queue, ...checkStatusRouteOptions(options, prefix) };
}

/**
 * The queue-independent half of {@link resolveStatusRoute}, for options known before the queue is (NestJS's module
 * options).
 */
export function checkStatusRouteOptions<Request>(
  options: StatusRouteOptions<Request> | undefined,
  prefix = '',
): Omit<ResolvedStatusRoute<Request>, 'queue'> {
  if (options === undefined) return { authorize: undefined, internals: false, exposeErrors: false };
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError(
      prefix.replace(/\.$/, '') || 'options',
      'expected an object such as { authorize, exposeErrors }',
    );
  const { authorize, internals = false, exposeErrors = false } = options;
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new InvalidOptionError(
      `${prefix}authorize`,
      'expected a function (request, status) => boolean | Promise<boolean>',
    );
  }
  if (typeof internals !== 'boolean')
    throw new InvalidOptionError(`${prefix}internals`, `expected a boolean, got ${JSON.stringify(internals)}`);
  if (typeof exposeErrors !== 'boolean')
    throw new InvalidOptionError(`${prefix}exposeErrors`, `expected a boolean, got ${JSON.stringify(exposeErrors)}`);
  return { authorize: authorize?.bind(options), internals, exposeErrors };
}

/**
 * The status route's answer for `id` as `request` asked for it: 404 for an
 * id that is not a task id, an unknown task or one `authorize` refuses
 * (the same 404, so a refusal does not reveal the task); otherwise the
 * public status.
 */
export async function answerTaskStatus<Request>(
  route: ResolvedStatusRoute<Request>,
  request: Request,
  id: unknown,
): Promise<StatusAnswer> {
  if (typeof id !== 'string' || !TASK_ID_PATTERN.test(id)) return UNKNOWN;
  const status = await route.queue.status(id.toLowerCase());
  if (!status) return UNKNOWN;
  if (route.authorize && (await route.authorize(request, status)) !== true) return UNKNOWN;
  return { status: 200, headers: HEADERS, body: publicStatus(status, route) };
}
