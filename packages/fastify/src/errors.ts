import { TaskqError } from '@taskq/core';

/** `taskqPlugin` was registered twice in one encapsulation context (or under a context that already has it). */
export class AlreadyRegisteredError extends TaskqError {
  constructor() {
    super('TASKQ_FASTIFY_ALREADY_REGISTERED', '@taskq/fastify is already registered here (fastify.taskQueue exists): register taskqPlugin once, on the root instance or one encapsulated context');
  }
}

/** `requestTransaction(request)` was called on a request that has no per-request transaction. */
export class NoRequestTransactionError extends TaskqError {
  constructor(why: string) {
    super('TASKQ_NO_REQUEST_TRANSACTION', `this request has no per-request transaction: ${why}`);
  }
}
