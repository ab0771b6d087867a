import { InvalidOptionError } from '@taskq/core';
import { CommitFailedError } from './request-scope.js';

/** Options of every adapter's `accepted()` helper (Express, Fastify) and of Nest's `@Accepted()`. */
export interface AcceptedOptions {
  /**
   * The status route, `:id` standing for the task id, relative to where the
   * adapter is mounted.
   * @defaultValue the adapter's own status route, else `'/tasks/:id'`
   */
  readonly statusPath?: string;
  /** Seconds the client should wait before asking (the `Retry-After` header). */
  readonly retryAfter?: number;
}

/** What a `202 Accepted` answer is made of; the adapter writes it with its framework's response. */
export interface AcceptedAnswer {
  readonly status: 202;
  readonly headers: { readonly location: string; readonly 'retry-after'?: string };
  readonly body: { readonly task: string };
}

/** Validates {@link AcceptedOptions}, naming the bad option (when a decorator is applied, or at the call). */
export function checkAcceptedOptions(options: AcceptedOptions): AcceptedOptions {
  const { statusPath, retryAfter } = options;
  if (
    statusPath !== undefined &&
    (typeof statusPath !== 'string' || !statusPath.startsWith('/') || !statusPath.includes(':id'))
  ) {
    throw new InvalidOptionError(
      'statusPath',
      `expected a path starting with '/' that contains ':id', got ${JSON.stringify(statusPath)}`,
    );
  }
  if (retryAfter !== undefined && !(Number.isInteger(retryAfter) && retryAfter >= 0)) {
    throw new InvalidOptionError('retryAfter', `expected a whole number of seconds, got ${retryAfter}`);
  }
  return options;
}

/**
 * The `202 Accepted` answer for a submitted task: `Location` at its status
 * route (made absolute by `absoluteUrl`, the request's URL helper), an
 * optional `Retry-After`, and the body `{ task: id }`. The adapters send it
 * only after the request's unit of work committed, so the status route
 * knows the id by the time the client reads it.
 */
export function acceptedAnswer(
  task: { readonly id: string },
  options: AcceptedOptions,
  absoluteUrl: (path: string) => string,
  defaultStatusPath = '/tasks/:id',
): AcceptedAnswer {
  const { statusPath = defaultStatusPath, retryAfter } = checkAcceptedOptions(options);
  const location = absoluteUrl(statusPath.replace(':id', encodeURIComponent(task.id)));
  const headers = retryAfter === undefined ? { location } : { location, 'retry-after': String(retryAfter) };
  return { status: 202, headers, body: { task: task.id } };
}

/**
 * The id of the task an `@Accepted()`-style handler returned (a `TaskHandle`, or anything with a string `id`), or
 * `undefined`.
 */
export function submittedTaskId(value: unknown): string | undefined {
  const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** What the client gets instead of the handler's response when the request's commit failed. */
export interface CommitFailedAnswer {
  readonly status: 500;
  readonly headers: { readonly 'content-type': 'application/json; charset=utf-8' };
  readonly body: string;
  readonly error: CommitFailedError;
}

/**
 * The 500 that replaces a response whose commit failed: `{ error: { code:
 * 'TASKQ_COMMIT_FAILED', message } }`. The adapter drops every header the
 * handler set (Location, Set-Cookie, ...): they described work that did not happen.
 */
export function commitFailedAnswer(error: unknown): CommitFailedAnswer {
  const failure = error instanceof CommitFailedError ? error : new CommitFailedError(error);
  return {
    status: 500,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code: failure.code, message: failure.message } }),
    error: failure,
  };
}
