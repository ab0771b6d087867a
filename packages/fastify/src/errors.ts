import { TaskqError } from '@taskq/core';

/** `taskqPlugin` was registered twice in one encapsulation context (or under a context that already has it). */
export class AlreadyRegisteredError extends TaskqError {
  constructor() {
    super(
      'TASKQ_FASTIFY_ALREADY_REGISTERED',
      '@taskq/fastify is already registered here (fastify.taskQueue exists): register taskqPlugin once, on the root instance or one encapsulated context',
    );
  }
}
