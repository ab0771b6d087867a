import type { TaskQueue, UnitOfWork } from '@taskq/core';
import type { FastifyRequest } from 'fastify';

/**
 * One request's transaction as the plugin drives it: opened in `onRequest`,
 * committed in `onSend` (before the reply is written), rolled back when the
 * request fails. `@taskq/typeorm`'s `openRequestTransaction(dataSource, queue)`
 * returns one (with its `EntityManager` as `manager`); without a factory the
 * plugin uses a plain unit of work from `queue.begin()`.
 */
export interface RequestTransaction {
  /** The unit of work the request's submits go into (with an outbox, it stages them in the database transaction). */
  readonly uow: UnitOfWork;
  /**
   * Runs the rest of the request inside the transaction's async context
   * (for helpers that find the current transaction through AsyncLocalStorage).
   * @defaultValue `uow.run`
   */
  run?<T>(fn: () => T): T;
  /** Commits; the request's tasks are published (or handed to the outbox relay) before it resolves. */
  commit(): Promise<void>;
  /** Drops the request's tasks and undoes its writes. Called at most once, also after a failed commit. */
  rollback(): Promise<void>;
}

/**
 * Opens the transaction for one request, or returns `undefined` for requests
 * that need none (e.g. `GET`s): those still get a plain unit of work.
 */
export type RequestTransactionFactory = (queue: TaskQueue, request: FastifyRequest) => RequestTransaction | undefined | Promise<RequestTransaction | undefined>;

/** The unit of work alone, for requests without a database transaction. */
export function plainTransaction(queue: TaskQueue): RequestTransaction {
  const uow = queue.begin();
  return { uow, commit: () => uow.commit(), rollback: () => uow.rollback() };
}
