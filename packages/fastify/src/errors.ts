import { TaskqError } from '@taskq/core';

/** `taskqPlugin` was registered twice in one encapsulation context (or under a context that already has it). */
export class AlreadyRegisteredError extends TaskqError {
  constructor() {
    super('TASKQ_FASTIFY_ALREADY_REGISTERED', '@taskq/fastify is already registered here (fastify.taskQueue exists): register taskqPlugin once, on the root instance or one encapsulated context');
  }
}

/** `request.taskQueue` was used after the response started, when the request's unit of work is already settled. */
export class RequestSettledError extends TaskqError {
  constructor(state: string) {
    super(
      'TASKQ_REQUEST_SETTLED',
      `the request's unit of work is already ${state} (the response has started): submit before replying, or submit through fastify.taskQueue to publish outside the request`,
    );
  }
}

/** An operation that belongs to the application queue was called on a request's queue view. */
export class RequestQueueMisuseError extends TaskqError {
  constructor(method: string, advice: string) {
    super('TASKQ_REQUEST_QUEUE_MISUSE', `request.taskQueue.${method}() is not available on a request's queue view: ${advice}`);
  }
}

/** `requestTransaction(request)` was called on a request that has no per-request transaction. */
export class NoRequestTransactionError extends TaskqError {
  constructor(why: string) {
    super('TASKQ_NO_REQUEST_TRANSACTION', `this request has no per-request transaction: ${why}`);
  }
}

/** The Host (or a trusted X-Forwarded-*) header cannot make a URL. Carries `statusCode` 400, which Fastify answers. */
export class BadRequestHostError extends TaskqError {
  readonly statusCode = 400;
  constructor(detail: string, options?: { cause?: unknown }) {
    super('TASKQ_BAD_REQUEST_HOST', `cannot build URLs for this request: ${detail}`, options);
  }
}

/** The request's commit failed: the client got a 500 instead of the handler's reply; `cause` says why. */
export class CommitFailedError extends TaskqError {
  constructor(cause: unknown) {
    super('TASKQ_COMMIT_FAILED', 'the request could not be committed: its transaction and tasks were dropped', { cause });
  }
}
