import { errorCode, TaskqError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskQueue } from '../queue.js';
import type { UnitOfWork } from '../unit-of-work.js';

/**
 * One web request's transaction as the HTTP adapters drive it: opened before
 * the route runs, committed before the response is sent, rolled back when
 * the request fails. `@taskq/typeorm`'s `openRequestTransaction(dataSource,
 * queue)` returns one (with its `EntityManager` as `manager`); without a
 * factory the adapters use a plain unit of work from `queue.begin()`.
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
export type RequestTransactionFactory<Request> = (queue: TaskQueue, request: Request) => RequestTransaction | undefined | Promise<RequestTransaction | undefined>;

/** The unit of work alone, for requests without a database transaction. */
export function plainTransaction(queue: TaskQueue): RequestTransaction {
  const uow = queue.begin();
  return { uow, commit: () => uow.commit(), rollback: () => uow.rollback() };
}

/** The request's commit failed: the client gets a 500 instead of the handler's response; `cause` says why. */
export class CommitFailedError extends TaskqError {
  constructor(cause: unknown) {
    super('TASKQ_COMMIT_FAILED', 'the request could not be committed: its transaction and tasks were dropped', { cause });
  }
}

/**
 * One request's transaction and how it ends: committed at most once, rolled
 * back at most once, never both unless a commit failed. Framework-neutral:
 * an adapter only tells it when the request failed, when the response
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
