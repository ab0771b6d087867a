import { TaskqError } from '@taskq/core';

/**
 * A `@Task()` method cannot be registered as written: a static method, a
 * symbol-named method without an explicit id, or a request-scoped provider
 * built by a factory (the explorer cannot see its class).
 */
export class TaskDeclarationError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_TASK_DECLARATION', message);
  }
}

/**
 * One `@Task()` method belongs to more than one provider instance (the same
 * class provided in two modules, or a decorated method two providers
 * inherit), so a submitted method would not say which instance runs it.
 */
export class AmbiguousTaskProviderError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_AMBIGUOUS_PROVIDER', message);
  }
}

/** `TaskqModule.forRoot()`/`forRootAsync()` was imported more than once in one application. */
export class DuplicateTaskqModuleError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_DUPLICATE_MODULE', message);
  }
}

/** A per-task middleware class named in `worker.middleware` could not be resolved from the container. */
export class MiddlewareResolutionError extends TaskqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TASKQ_NEST_MIDDLEWARE', message, options);
  }
}

/** `@RequestUrls()` was used on a route without the taskq interceptor in front of it. */
export class NoRequestContextError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_NO_REQUEST_CONTEXT', message);
  }
}

/** An `@Accepted()` handler returned something other than the submitted task's handle. */
export class AcceptedResultError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_ACCEPTED', message);
  }
}

/**
 * `@InjectQueue(name)` names a queue that is declared neither in `TaskqModule.forRoot({ queues })` nor in a
 * `TaskqModule.forFeature({ queues })` imported by the provider's module.
 */
export class UndeclaredQueueError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_UNDECLARED_QUEUE', message);
  }
}

/** An `@OnTaskEvent()` method cannot be wired as written: an unknown event, or a provider that is not a singleton. */
export class TaskEventHandlerError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_EVENT_HANDLER', message);
  }
}

/** `TaskqTypeormModule` cannot be wired as configured. */
export class TypeormIntegrationError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NEST_TYPEORM', message);
  }
}
