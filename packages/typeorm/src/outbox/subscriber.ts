import type { Logger } from '@taskq/core';
import type {
  DataSource,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { type Dialect, dialectOf } from '../internal/dialect.js';
import { holdForCommit, publishCommitted, releaseStaged } from './committed.js';
import { ownedRunners } from './publish.js';
import { beforeStatement, noteStatement, peekPending, pipelineCommit, takePending } from './stage.js';

/** TypeORM's `afterQuery` event (its type is not exported from the package root). */
type AfterQueryEvent = Parameters<NonNullable<EntitySubscriberInterface['afterQuery']>>[0];
/** TypeORM's `beforeQuery` event. */
type BeforeQueryEvent = Parameters<NonNullable<EntitySubscriberInterface['beforeQuery']>>[0];

/** The logger `joinTransaction()` was given for a runner's publish. */
const runnerLoggers = new WeakMap<QueryRunner, Logger>();

export function setRunnerLogger(runner: QueryRunner, logger: Logger): void {
  runnerLoggers.set(runner, logger);
}

/**
 * taskq's view of TypeORM's transaction events.
 *
 * For every transaction that staged tasks, taskq's own or not, it watches
 * the statements that follow (see `noteStatement`): one that may have undone
 * staged rows makes the commit publish only the rows that are in the table.
 * On PostgreSQL it also writes the staged rows: with the COMMIT, in its round
 * trip (`pipelineCommit`), or before a statement that could end or divide
 * the transaction (`beforeStatement`).
 *
 * For transactions taskq did not open (`joinTransaction(manager, ...)` inside
 * `dataSource.transaction()`, typeorm-transactional, ...) it is also the
 * "publish now" signal: after the outermost COMMIT of a runner that has
 * staged tasks, they are published; after its ROLLBACK they are forgotten
 * (the rows went with it). A savepoint release or rollback fires the same
 * events with the transaction still active, and is left to the outer one.
 */
class OutboxCommitSubscriber implements EntitySubscriberInterface {
  readonly #dataSource: DataSource;
  readonly #logger: Logger;
  readonly #dialect: Dialect;

  constructor(dataSource: DataSource, logger: Logger) {
    this.#dataSource = dataSource;
    this.#logger = logger;
    this.#dialect = dialectOf(dataSource, 'dataSource');
  }

  beforeQuery(event: BeforeQueryEvent): Promise<void> | undefined {
    return beforeStatement(this.#dialect, event.queryRunner, event.query);
  }

  afterQuery(event: AfterQueryEvent): void {
    noteStatement(event.queryRunner, event.query, event.success, event.rawResults);
  }

  beforeTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    pipelineCommit(runner);
    if (ownedRunners.has(runner)) return;
    holdForCommit(this.#dataSource, peekPending(runner));
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    if (runner.isTransactionActive || ownedRunners.has(runner)) return;
    const staged = takePending(runner);
    if (!staged) return;
    // Not awaited: the committing connection is still checked out here, and with a pool of
    // one the publish could never get a connection of its own. It never rejects.
    void publishCommitted(this.#dataSource, this.#dialect, staged, runnerLoggers.get(runner) ?? this.#logger);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const runner = event.queryRunner;
    if (runner.isTransactionActive || ownedRunners.has(runner)) return;
    releaseStaged(this.#dataSource, takePending(runner));
  }
}

const installed = new WeakSet<DataSource>();

/** Adds the commit subscriber to `dataSource` once. */
export function installCommitSubscriber(dataSource: DataSource, logger: Logger): void {
  if (installed.has(dataSource)) return;
  installed.add(dataSource);
  dataSource.subscribers.push(new OutboxCommitSubscriber(dataSource, logger));
}
