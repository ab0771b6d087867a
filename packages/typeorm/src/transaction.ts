import { InvalidOptionError, type Logger, type TaskQueue, type UnitOfWork } from '@taskq/core';
import { currentUnitOfWork, useLogger } from '@taskq/core/adapter';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import {
  NestedTransactionError,
  NoEntityManagerError,
  NoTransactionError,
  NoUnitOfWorkError,
  TransactionClosedError,
  TypeormSetupError,
} from './errors.js';
import { type Dialect, dialectOf } from './internal/dialect.js';
import { currentScopeStack, findScope, isSqlite, runInScope, type Scope, sqliteLock } from './internal/scope.js';
import { holdForCommit, publishCommitted, releaseStaged } from './outbox/committed.js';
import { ownedRunners } from './outbox/publish.js';
import { outboxStage, peekPending, takePending, unstage } from './outbox/stage.js';
import { installCommitSubscriber, setRunnerLogger } from './outbox/subscriber.js';

/** A transaction isolation level as TypeORM names it (`'READ COMMITTED'`, `'SERIALIZABLE'`, ...). */
export type IsolationLevel = NonNullable<Parameters<QueryRunner['startTransaction']>[0]>;

/** Options of {@link transactional} and {@link databaseUnitOfWork}. */
export interface TransactionOptions {
  /** Isolation level of the transaction. @defaultValue the DataSource's default */
  readonly isolation?: IsolationLevel;
  /**
   * Where a failed publish after commit is reported (the tasks stay in the
   * outbox for the relay's sweep). @defaultValue warnings and errors to stderr
   */
  readonly logger?: Logger;
}

/** State of a {@link TypeormRequestUnitOfWork}. */
export type TransactionState = 'open' | 'committed' | 'rolled-back';

/**
 * A database transaction with taskq's unit of work bound to it, for
 * framework adapters (one per HTTP request): run the handler with
 * `tx.run(next)`, then `tx.commit()` or `tx.rollback()`. Tasks submitted
 * below `run()` are written to the outbox through `manager` and published
 * after the commit.
 */
export interface TypeormRequestUnitOfWork {
  /** The transaction's EntityManager (also what `currentEntityManager()` returns below `run()`). */
  readonly manager: EntityManager;
  /** The unit of work submits below `run()` join. */
  readonly uow: UnitOfWork;
  readonly state: TransactionState;
  /**
   * Runs `fn` (synchronously; async work it starts inherits the context) with this transaction and unit of work as the
   * current ones.
   */
  run<T>(fn: () => T): T;
  /**
   * Commits the database transaction, then publishes the staged tasks.
   * Resolves once they were published, or once publishing failed (logged;
   * the relay's sweep publishes them). Rejects only when the COMMIT failed,
   * after rolling back.
   */
  commit(): Promise<void>;
  /** Rolls back: the staged tasks vanish with the transaction. Idempotent; safe after a failed commit. */
  rollback(): Promise<void>;
}

interface OpenOptions {
  readonly queue: TaskQueue | undefined;
  readonly isolation: IsolationLevel | undefined;
  readonly logger: Logger;
}

/**
 * @internal A transaction opened by taskq: our helpers, request transactions and the per-task middleware all use it.
 */
export class OwnTransaction implements TypeormRequestUnitOfWork {
  readonly dataSource: DataSource;
  readonly dialect: Dialect;
  readonly runner: QueryRunner;
  readonly scope: Scope;
  readonly #unlock: (() => void) | undefined;
  readonly #logger: Logger;
  #state: TransactionState = 'open';
  #committing = false;

  private constructor(
    dataSource: DataSource,
    dialect: Dialect,
    runner: QueryRunner,
    queue: TaskQueue | undefined,
    unlock: (() => void) | undefined,
    logger: Logger,
  ) {
    this.dataSource = dataSource;
    this.dialect = dialect;
    this.runner = runner;
    this.#unlock = unlock;
    this.#logger = logger;
    const uow = queue?.begin({ stage: outboxStage(dataSource, dialect, runner.manager, runner, queue) });
    this.scope = { dataSource, manager: runner.manager, runner, uow, parent: currentScopeStack(), closed: false };
  }

  static async open(dataSource: DataSource, dialect: Dialect, options: OpenOptions): Promise<OwnTransaction> {
    if (!dataSource.isInitialized)
      throw new TypeormSetupError('the DataSource is not initialized: call dataSource.initialize() first');
    // SQLite has one connection per DataSource: one taskq transaction at a time.
    if (isSqlite(dataSource) && findScope(dataSource)) {
      throw new NestedTransactionError(
        'a taskq transaction on this SQLite DataSource is already open here, and SQLite has one connection: use transactional(), which joins it',
      );
    }
    // Watches the transaction's statements for anything that may undo staged rows.
    installCommitSubscriber(dataSource, options.logger);
    const unlock = isSqlite(dataSource) ? await sqliteLock(dataSource).acquire() : undefined;
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      ownedRunners.add(runner);
      await runner.startTransaction(options.isolation);
    } catch (error) {
      ownedRunners.delete(runner);
      await runner.release().catch(() => {});
      unlock?.();
      throw error;
    }
    return new OwnTransaction(dataSource, dialect, runner, options.queue, unlock, options.logger);
  }

  get manager(): EntityManager {
    return this.scope.manager;
  }

  get uow(): UnitOfWork {
    if (!this.scope.uow)
      throw new NoUnitOfWorkError('this transaction was opened without a queue, so it has no unit of work');
    return this.scope.uow;
  }

  get state(): TransactionState {
    return this.#state;
  }

  run<T>(fn: () => T): T {
    const uow = this.scope.uow;
    const inScope = (): T => runInScope(this.scope, fn);
    return uow ? uow.run(inScope) : inScope();
  }

  async commit(): Promise<void> {
    if (this.#state !== 'open' || this.#committing)
      throw new TransactionClosedError(
        `cannot commit a transaction that is already ${this.#committing ? 'committing' : this.#state}`,
      );
    this.#committing = true;
    holdForCommit(this.dataSource, peekPending(this.runner));
    try {
      await this.runner.commitTransaction();
    } catch (error) {
      await this.rollback();
      throw error;
    }
    this.#state = 'committed';
    this.scope.closed = true;
    // Taken before the connection (and on SQLite the lock) is given up: the runner may serve the next transaction at
    // once.
    const staged = takePending(this.runner);
    await this.scope.uow?.commit();
    await this.#close();
    await publishCommitted(this.dataSource, this.dialect, staged, this.#logger);
  }

  async rollback(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'rolled-back';
    this.scope.closed = true;
    try {
      if (this.runner.isTransactionActive) await this.runner.rollbackTransaction();
    } finally {
      releaseStaged(this.dataSource, takePending(this.runner));
      await this.scope.uow?.rollback();
      await this.#close();
    }
  }

  async #close(): Promise<void> {
    ownedRunners.delete(this.runner);
    try {
      await this.runner.release();
    } finally {
      this.#unlock?.();
    }
  }
}

function checkQueue(queue: TaskQueue, option: string): void {
  if (!queue || typeof queue.begin !== 'function' || typeof queue.submit !== 'function')
    throw new InvalidOptionError(option, 'expected a TaskQueue from createQueue()');
}

function resolveTransactionOptions(options: TransactionOptions | undefined): OpenOptions & { queue: undefined } {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new InvalidOptionError('options', 'expected an object');
  const isolation = options?.isolation;
  if (isolation !== undefined && typeof isolation !== 'string')
    throw new InvalidOptionError(
      'isolation',
      `expected an isolation level such as 'READ COMMITTED', got ${String(isolation)}`,
    );
  return { queue: undefined, isolation, logger: useLogger(options?.logger) };
}

/**
 * Opens a database transaction with a unit of work bound to it: the building
 * block of the Express, Fastify and Nest adapters' request unit of work (their `unitOfWork` option).
 *
 * @example
 * const tx = await databaseUnitOfWork(dataSource, queue);
 * try { await tx.run(() => handler(tx.manager)); await tx.commit(); }
 * catch (error) { await tx.rollback(); throw error; }
 */
export async function databaseUnitOfWork(
  dataSource: DataSource,
  queue: TaskQueue,
  options?: TransactionOptions,
): Promise<TypeormRequestUnitOfWork> {
  const dialect = dialectOf(dataSource, 'dataSource');
  checkQueue(queue, 'queue');
  const resolved = resolveTransactionOptions(options);
  return OwnTransaction.open(dataSource, dialect, { ...resolved, queue });
}

/**
 * Runs `fn` in a database transaction; tasks submitted anywhere below it
 * (with `queue` or any view of it) are written to the outbox in that same
 * transaction and published right after the commit. If `fn` throws, the
 * transaction rolls back and the tasks vanish with it. Inside an open
 * taskq transaction of the same DataSource it joins that one.
 *
 * Resolves with `fn`'s result once committed and published (a failed publish
 * is logged and left to the relay's sweep).
 */
export async function transactional<T>(
  dataSource: DataSource,
  queue: TaskQueue,
  fn: (manager: EntityManager) => Promise<T> | T,
  options?: TransactionOptions,
): Promise<T> {
  const dialect = dialectOf(dataSource, 'dataSource');
  checkQueue(queue, 'queue');
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'expected a function (manager) => Promise<T>');
  const resolved = resolveTransactionOptions(options);
  const scope = findScope(dataSource);
  if (scope) {
    if (scope.uow !== undefined && scope.uow === currentUnitOfWork()) return fn(scope.manager);
    // An open transaction without our unit of work (a task's transaction opened without `queue`): stage into it.
    return bindUnitOfWork(dataSource, dialect, scope.manager, scope.runner, queue, fn);
  }
  const tx = await OwnTransaction.open(dataSource, dialect, { ...resolved, queue });
  let result: T;
  try {
    result = await tx.run(() => fn(tx.manager));
  } catch (error) {
    await tx.rollback();
    throw error;
  }
  await tx.commit();
  return result;
}

/**
 * Binds taskq to a transaction you opened yourself (`dataSource.transaction()`,
 * typeorm-transactional's `@Transactional()`, a QueryRunner): tasks submitted
 * below `fn` are written to the outbox through `manager` and published after
 * that transaction's outermost COMMIT (TypeORM's `afterTransactionCommit`);
 * a rollback drops them. If `fn` throws, its tasks are removed even if you
 * go on to commit.
 *
 * @example
 * await dataSource.transaction(async (manager) => {
 *   await manager.save(order);
 *   await joinTransaction(manager, queue, () => queue.submit(sendReceipt, order));
 * });
 */
export async function joinTransaction<T>(
  manager: EntityManager,
  queue: TaskQueue,
  fn: () => Promise<T> | T,
  options?: Pick<TransactionOptions, 'logger'>,
): Promise<T> {
  const runner = manager?.queryRunner;
  if (!runner?.isTransactionActive) {
    throw new NoTransactionError(
      'joinTransaction() needs the EntityManager of an open transaction (the one dataSource.transaction() passes to its callback)',
    );
  }
  const dataSource = manager.connection;
  const dialect = dialectOf(dataSource, 'manager');
  checkQueue(queue, 'queue');
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'expected a function');
  if (!ownedRunners.has(runner)) {
    const logger = useLogger(options?.logger);
    installCommitSubscriber(dataSource, logger);
    setRunnerLogger(runner, logger);
  }
  return bindUnitOfWork(dataSource, dialect, manager, runner, queue, () => fn());
}

async function bindUnitOfWork<T>(
  dataSource: DataSource,
  dialect: Dialect,
  manager: EntityManager,
  runner: QueryRunner,
  queue: TaskQueue,
  fn: (manager: EntityManager) => Promise<T> | T,
): Promise<T> {
  const staged: string[] = [];
  const uow = queue.begin({ stage: outboxStage(dataSource, dialect, manager, runner, queue, staged) });
  const scope: Scope = { dataSource, manager, runner, uow, parent: currentScopeStack(), closed: false };
  let result: T;
  try {
    result = await uow.run(() => runInScope(scope, () => fn(manager)));
  } catch (error) {
    scope.closed = true;
    await uow.rollback();
    if (runner.isTransactionActive) await unstage(dataSource, dialect, manager, runner, queue, staged);
    throw error;
  }
  scope.closed = true;
  await uow.commit();
  return result;
}

/**
 * The EntityManager of the transaction this code runs in: the per-task
 * transaction in a worker (`taskTransaction()`), or the one opened by
 * `transactional()` / a request transaction. With several DataSources, pass
 * the one you mean.
 *
 * @throws NoEntityManagerError outside such a transaction.
 */
export function currentEntityManager(dataSource?: DataSource): EntityManager {
  const scope = findScope(dataSource);
  if (!scope) throw new NoEntityManagerError();
  return scope.manager;
}

/** Like {@link currentEntityManager}, but undefined outside a transaction. */
export function maybeCurrentEntityManager(dataSource?: DataSource): EntityManager | undefined {
  return findScope(dataSource)?.manager;
}
