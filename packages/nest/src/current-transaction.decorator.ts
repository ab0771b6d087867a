import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { NoRequestTransactionError } from './errors.js';
import type { RequestTransaction } from './request-transaction.js';

const TRANSACTION: unique symbol = Symbol('taskq.nest.transaction');

/** @internal Remembers the transaction the interceptor opened for this request. */
export function attachTransaction(request: unknown, transaction: RequestTransaction): void {
  if (typeof request === 'object' && request !== null) (request as { [TRANSACTION]?: RequestTransaction })[TRANSACTION] = transaction;
}

/** The transaction the unit-of-work interceptor opened for `request`; throws when there is none. */
export function requestTransaction<T extends RequestTransaction = RequestTransaction>(request: unknown): T {
  const transaction = typeof request === 'object' && request !== null ? (request as { [TRANSACTION]?: RequestTransaction })[TRANSACTION] : undefined;
  if (!transaction) {
    throw new NoRequestTransactionError('no request transaction: the route is not behind the taskq unit-of-work interceptor (http.unitOfWork: false?)');
  }
  return transaction as T;
}

/**
 * Injects the request's transaction into a handler parameter; with
 * @taskq/typeorm's `openRequestTransaction` as `http.transaction`, its
 * `manager` is the request's EntityManager. The parameter's type is the
 * caller's promise; it is not checked at run time.
 *
 * @example
 * ```ts
 * @Post('users')
 * register(@Body() body: NewUser, @CurrentTransaction() tx: TypeormRequestTransaction) { return tx.manager.save(User, body); }
 * ```
 */
export const CurrentTransaction: () => ParameterDecorator = createParamDecorator((_data: unknown, execution: ExecutionContext) =>
  requestTransaction(execution.switchToHttp().getRequest()),
);
