import { TaskqError } from '@taskq/core';

/**
 * An entity passed to `submit` has never been saved: it has no primary key
 * yet, or no row with its primary key exists. Save it first, then submit.
 * Core reports it as the `cause` of its `TASKQ_UNSERIALIZABLE_ARGUMENT` error.
 */
export class EntityNotSavedError extends TaskqError {
  /** Entity name, e.g. `User`. */
  readonly entity: string;
  constructor(entity: string, message: string) {
    super('TASKQ_ENTITY_NOT_SAVED', message);
    this.entity = entity;
  }
}

/**
 * An entity passed to `submit` differs from its stored row and the entity
 * codec's policy is `dirty: 'reject'`. `columns` names the changed properties.
 */
export class EntityDirtyError extends TaskqError {
  readonly entity: string;
  /** Property names whose values differ from the stored row. */
  readonly columns: readonly string[];
  readonly id: Readonly<Record<string, unknown>>;
  constructor(entity: string, id: Record<string, unknown>, columns: readonly string[]) {
    super(
      'TASKQ_ENTITY_DIRTY',
      `${entity} ${JSON.stringify(id)} has unsaved changes in ${columns.length === 1 ? 'column' : 'columns'} ${columns.join(', ')}; ` +
        `save it before submitting, or create the codec with entityCodec(dataSource, { dirty: 'flush' }) to save it automatically`,
    );
    this.entity = entity;
    this.id = id;
    this.columns = columns;
  }
}

/**
 * An entity reference names an entity the entity codec does not allow: one
 * missing from its `entities` list, or one of taskq's own tables. At submit
 * the argument is refused (core reports it as the `cause` of its
 * `TASKQ_UNSERIALIZABLE_ARGUMENT` error); in a worker the message is
 * dead-lettered as `undecodable-arguments` without running the task.
 */
export class EntityNotAllowedError extends TaskqError {
  /** The name the reference used (shortened when it came from the wire). */
  readonly entity: string;
  constructor(entity: string, message: string) {
    super('TASKQ_ENTITY_NOT_ALLOWED', message);
    this.entity = entity;
  }
}

/**
 * An entity key does not fit the entity's primary key: other properties, or
 * a value of the wrong type (`"1 OR 1=1"` for an integer column). In a worker
 * the message is dead-lettered as `undecodable-arguments` on its first
 * attempt, before any query; at submit the argument is refused.
 */
export class EntityKeyError extends TaskqError {
  readonly entity: string;
  constructor(entity: string, message: string) {
    super('TASKQ_ENTITY_KEY_INVALID', message);
    this.entity = entity;
  }
}

/**
 * The row an entity argument refers to no longer exists when the worker loads
 * it (deleted after submit). The task fails at once, without retries, and is
 * dead-lettered with this message.
 */
export class EntityNotFoundError extends TaskqError {
  readonly entity: string;
  readonly id: Readonly<Record<string, unknown>>;
  constructor(entity: string, id: Record<string, unknown>) {
    super(
      'TASKQ_ENTITY_NOT_FOUND',
      `${entity} ${JSON.stringify(id)} no longer exists (it was deleted after the task was submitted); the task is not retried`,
    );
    this.entity = entity;
    this.id = id;
  }
}

/**
 * Loading an entity argument failed for a reason that may pass (connection
 * lost, lock timeout). `retryable` tells the worker to retry the attempt
 * instead of dead-lettering it as undecodable.
 */
export class EntityLoadError extends TaskqError {
  readonly entity: string;
  readonly retryable = true;
  constructor(entity: string, cause: unknown) {
    super(
      'TASKQ_ENTITY_LOAD_FAILED',
      `loading the ${entity} argument failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.entity = entity;
  }
}

/**
 * `currentEntityManager()` was called outside `transactional()`, a request transaction or a task run with
 * `taskTransaction()`.
 */
export class NoEntityManagerError extends TaskqError {
  constructor(
    message = 'currentEntityManager() was called outside a transaction: use it inside transactional(), a request transaction, or a task run with worker.use(taskTransaction(dataSource))',
  ) {
    super('TASKQ_NO_ENTITY_MANAGER', message);
  }
}

/** `joinTransaction()` was given an EntityManager that is not inside an open transaction. */
export class NoTransactionError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NO_TRANSACTION', message);
  }
}

/** The DataSource lacks taskq's tables or is not initialized; the message says what to add. */
export class TypeormSetupError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_TYPEORM_SETUP', message);
  }
}

/**
 * A taskq database transaction was opened on a SQLite DataSource that already has one open here (SQLite has one
 * connection): use `transactional()`, which joins it.
 */
export class NestedTransactionError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NESTED_TRANSACTION', message);
  }
}

/** A database transaction opened without a queue was asked for its unit of work. */
export class NoUnitOfWorkError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_NO_UNIT_OF_WORK', message);
  }
}

/** A database transaction was committed while it was already committing, committed or rolled back. */
export class TransactionClosedError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_TRANSACTION_CLOSED', message);
  }
}

/** The outbox relay was started twice; it starts once. */
export class OutboxRelayStartedError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_RELAY_STARTED', message);
  }
}
