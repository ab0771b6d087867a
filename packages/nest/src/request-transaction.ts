import type { ExecutionContext } from '@nestjs/common';
import type { TaskQueue, UnitOfWork } from '@taskq/core';

/**
 * What the unit-of-work interceptor opens around one HTTP request. Tasks
 * submitted while the handler runs join `uow`; `commit()` runs once the
 * handler's observable completed (then the response is sent), `rollback()`
 * when it failed. @taskq/typeorm's `openRequestTransaction(dataSource, queue)`
 * returns one that also holds a database transaction.
 */
export interface RequestTransaction {
  /** The unit of work the request's submits join. */
  readonly uow: UnitOfWork;
  /** Commits the request's work and publishes its tasks; the response waits for it. */
  commit(): Promise<void>;
  /** Drops the request's work and its tasks. */
  rollback(): Promise<void>;
  /**
   * Runs the handler in the transaction's async context.
   * @defaultValue `uow.run(fn)`
   */
  run?<T>(fn: () => T): T;
}

/**
 * Opens the {@link RequestTransaction} of one request (the generic hook for
 * database integrations), or returns `undefined` for a request that needs
 * none, which still gets a plain unit of work. The same shape as
 * @taskq/express's `transaction` option, so one factory serves both.
 *
 * @example
 * ```ts
 * import { openRequestTransaction } from '@taskq/typeorm';
 * TaskqModule.forRootAsync({
 *   inject: [DataSource],
 *   useFactory: (dataSource: DataSource) => ({
 *     transport: amqp({ url }),
 *     http: { transaction: (queue) => openRequestTransaction(dataSource, queue) },
 *   }),
 * });
 * ```
 */
export type RequestTransactionFactory = (
  queue: TaskQueue,
  request: unknown,
  execution: ExecutionContext,
) => RequestTransaction | undefined | Promise<RequestTransaction | undefined>;

/** The default: the request's unit of work, no database transaction. */
export function plainTransaction(queue: TaskQueue): RequestTransaction {
  const uow = queue.begin();
  return { uow, commit: () => uow.commit(), rollback: () => uow.rollback() };
}
