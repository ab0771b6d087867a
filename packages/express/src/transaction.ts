import type { RequestTransactionFactory as CoreRequestTransactionFactory } from '@taskq/core';
import type { Request } from 'express';

export type { RequestTransaction } from '@taskq/core';

/**
 * Opens the transaction for one request, or returns `undefined` for requests
 * that need none (e.g. `GET`s): those still get a plain unit of work.
 */
export type RequestTransactionFactory = CoreRequestTransactionFactory<Request>;
