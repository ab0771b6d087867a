import { TaskqError } from '@taskq/core';

/**
 * `taskq()` ran twice for one request (mounted on the app and again on a
 * router or sub-app): two units of work would split the request's tasks.
 */
export class MountedTwiceError extends TaskqError {
  constructor() {
    super('TASKQ_EXPRESS_MOUNTED_TWICE', 'taskq() ran twice for this request: mount it once, on the app (or the outermost router) that serves the request');
  }
}

/** `req.taskQueue` was used after the response started, when the request's unit of work is already settled. */
export class RequestSettledError extends TaskqError {
  constructor(state: string) {
    super(
      'TASKQ_REQUEST_SETTLED',
      `the request's unit of work is already ${state} (the response has started): submit before responding, or submit through the application queue to publish outside the request`,
    );
  }
}

/** An operation that belongs to the application queue was called on a request's queue view. */
export class RequestQueueMisuseError extends TaskqError {
  constructor(method: string, advice: string) {
    super('TASKQ_REQUEST_QUEUE_MISUSE', `req.taskQueue.${method}() is not available on a request's queue view: ${advice}`);
  }
}

/** `requestTransaction(req)` was called on a request that has no per-request transaction. */
export class NoRequestTransactionError extends TaskqError {
  constructor(why: string) {
    super('TASKQ_NO_REQUEST_TRANSACTION', `this request has no per-request transaction: ${why}`);
  }
}

/**
 * The Host (or a trusted X-Forwarded-*) header cannot make a URL. Carries
 * `status` 400 so Express's error handling answers Bad Request.
 */
export class BadRequestHostError extends TaskqError {
  readonly status = 400;
  readonly statusCode = 400;
  constructor(detail: string, options?: { cause?: unknown }) {
    super('TASKQ_BAD_REQUEST_HOST', `cannot build URLs for this request: ${detail}`, options);
  }
}

/** The request's commit failed: the client got a 500 instead of the handler's response; `cause` says why. */
export class CommitFailedError extends TaskqError {
  constructor(cause: unknown) {
    super('TASKQ_COMMIT_FAILED', 'the request could not be committed: its transaction and tasks were dropped', { cause });
  }
}
