import type { ExecutionContext } from '@nestjs/common';
import type { RequestTransaction, TaskQueue } from '@taskq/core';

export { plainTransaction, type RequestTransaction } from '@taskq/core';

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
