import { errorCode, type Logger } from '@taskq/core';
import { CommitFailedError } from '../errors.js';
import type { RequestTransaction } from '../transaction.js';

/**
 * One request's transaction and how it ends: committed at most once, rolled
 * back at most once, never both unless a commit failed. Framework-neutral:
 * the middleware only tells it when the request failed, when the response
 * starts (with its status) and when the connection went away.
 */
export class RequestScope {
  readonly transaction: RequestTransaction;
  readonly #rollbackOn: (status: number) => boolean;
  readonly #logger: Logger;
  #failed = false;
  #rollingBack: Promise<void> | undefined;
  #outcome: Promise<void> | undefined;

  constructor(transaction: RequestTransaction, rollbackOn: (status: number) => boolean, logger: Logger) {
    this.transaction = transaction;
    this.#rollbackOn = rollbackOn;
    this.#logger = logger;
  }

  /** The request failed (an error reached the error handlers): drop everything now, whatever the response will say. */
  fail(): void {
    // After the response started the outcome is decided (and the client may hold a task id): a late error changes nothing.
    if (this.#outcome !== undefined) return;
    this.#failed = true;
    void this.#rollback();
  }

  /** The response is about to start with `status`: commit or roll back first. Rejects with {@link CommitFailedError} when the commit failed. */
  settle(status: number): Promise<void> {
    this.#outcome ??= this.#settle(status);
    return this.#outcome;
  }

  /** The client went away before a response started: nobody will learn a task id, so drop it all. */
  abandon(): void {
    if (this.#outcome === undefined) this.#outcome = this.#rollback();
  }

  async #settle(status: number): Promise<void> {
    if (this.#failed || this.#rollbackOn(status)) return this.#rollback();
    try {
      await this.transaction.commit();
    } catch (error) {
      this.#logger.error('the request could not be committed; its tasks were dropped', { error, code: errorCode(error) });
      await this.#rollback();
      throw new CommitFailedError(error);
    }
  }

  #rollback(): Promise<void> {
    this.#rollingBack ??= this.transaction.rollback().catch((error: unknown) => {
      // Nothing is left to undo for the client; a failing rollback is an operator's problem, not a reason to crash the request.
      this.#logger.error('rolling back the request failed', { error, code: errorCode(error) });
    });
    return this.#rollingBack;
  }
}
