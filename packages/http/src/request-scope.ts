import { errorCode, type Logger, type TaskQueue, TaskqError, type UnitOfWork } from '@taskq/core';

/**
 * One web request's unit of work as the HTTP adapters drive it: opened
 * before the route runs, committed before the response starts, rolled back
 * when the request fails. `@taskq/typeorm`'s `databaseUnitOfWork(dataSource,
 * queue)` returns one that also opens a database transaction (its
 * `EntityManager` is `manager`); without a factory the adapters use
 * {@link plainUnitOfWork}.
 */
export interface RequestUnitOfWork {
  /** The unit of work the request's submits go into (with an outbox, it stages them in the database transaction). */
  readonly uow: UnitOfWork;
  /**
   * Runs the rest of the request inside this unit of work's async context
   * (for helpers that find the current database transaction through AsyncLocalStorage).
   * @defaultValue `uow.run`
   */
  run?<T>(fn: () => T): T;
  /** Commits; the request's tasks are published (or handed to the outbox relay) before it resolves. */
  commit(): Promise<void>;
  /** Drops the request's tasks and undoes its writes. Called at most once, also after a failed commit. */
  rollback(): Promise<void>;
}

/**
 * Opens the unit of work of one request, or returns `undefined` for requests
 * that need nothing more than a plain one (e.g. `GET`s). The `unitOfWork`
 * option of every HTTP adapter; `Request` is the framework's request.
 */
export type RequestUnitOfWorkFactory<Request = unknown> = (
  queue: TaskQueue,
  request: Request,
) => RequestUnitOfWork | undefined | Promise<RequestUnitOfWork | undefined>;

/** The unit of work alone, for requests without a database transaction. */
export function plainUnitOfWork(queue: TaskQueue): RequestUnitOfWork {
  const uow = queue.begin();
  return { uow, commit: () => uow.commit(), rollback: () => uow.rollback() };
}

/** The request's commit failed: the client gets a 500 instead of the handler's response; `cause` says why. */
export class CommitFailedError extends TaskqError {
  constructor(cause: unknown) {
    super('TASKQ_COMMIT_FAILED', 'the request could not be committed: its unit of work and tasks were dropped', {
      cause,
    });
  }
}

/**
 * The request has no unit of work of taskq's: `requestUnitOfWork(request)`
 * was called where the adapter is not in front of the route, or the
 * `unitOfWork` factory returned something other than a {@link RequestUnitOfWork}.
 */
export class NoRequestUnitOfWorkError extends TaskqError {
  constructor(why: string) {
    super('TASKQ_NO_REQUEST_UNIT_OF_WORK', `this request has no unit of work: ${why}`);
  }
}

/**
 * Opens the request's unit of work with `factory` (a plain one when there
 * is none or it returns `undefined`), checking the shape of what it
 * returned: a wrong factory fails the first request clearly rather than
 * half-way through a commit.
 */
export async function openRequestUnitOfWork<Request>(
  queue: TaskQueue,
  factory: RequestUnitOfWorkFactory<Request> | undefined,
  request: Request,
): Promise<RequestUnitOfWork> {
  const opened: unknown = factory ? await factory(queue, request) : undefined;
  if (opened === undefined) return plainUnitOfWork(queue);
  const candidate = opened as Partial<RequestUnitOfWork> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.commit !== 'function' ||
    typeof candidate.rollback !== 'function' ||
    typeof candidate.uow?.run !== 'function'
  ) {
    throw new NoRequestUnitOfWorkError(
      'the unitOfWork option returned something other than { uow, commit(), rollback() }',
    );
  }
  return opened as RequestUnitOfWork;
}

/**
 * One request's unit of work and how it ends: committed at most once,
 * rolled back at most once, never both unless a commit failed.
 * Framework-neutral: an adapter only tells it when the request failed, when
 * the response starts (with its status) and when the connection went away.
 */
export class RequestScope {
  readonly unitOfWork: RequestUnitOfWork;
  readonly #rollbackOn: (status: number) => boolean;
  readonly #logger: Logger;
  #failed = false;
  #rollingBack: Promise<void> | undefined;
  #outcome: Promise<void> | undefined;

  constructor(unitOfWork: RequestUnitOfWork, rollbackOn: (status: number) => boolean, logger: Logger) {
    this.unitOfWork = unitOfWork;
    this.#rollbackOn = rollbackOn;
    this.#logger = logger;
  }

  /** Runs `fn` (the rest of the request) inside the unit of work's async context. */
  run<T>(fn: () => T): T {
    const { unitOfWork } = this;
    return unitOfWork.run ? unitOfWork.run(fn) : unitOfWork.uow.run(fn);
  }

  /** The request failed (an error reached the error handlers): drop everything now, whatever the response will say. */
  fail(): void {
    // After the response started the outcome is decided (and the client may hold a task id): a late error changes
    // nothing.
    if (this.#outcome !== undefined) return;
    this.#failed = true;
    void this.#rollback();
  }

  /**
   * The response is about to start with `status`: commit or roll back first. Rejects with {@link CommitFailedError}
   * when the commit failed.
   */
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
      await this.unitOfWork.commit();
    } catch (error) {
      this.#logger.error('the request could not be committed; its tasks were dropped', {
        error,
        code: errorCode(error),
      });
      await this.#rollback();
      throw new CommitFailedError(error);
    }
  }

  #rollback(): Promise<void> {
    this.#rollingBack ??= this.unitOfWork.rollback().catch((error: unknown) => {
      // Nothing is left to undo for the client; a failing rollback is an operator's problem, not a reason to crash the
      // request.
      this.#logger.error('rolling back the request failed', { error, code: errorCode(error) });
    });
    return this.#rollingBack;
  }
}
