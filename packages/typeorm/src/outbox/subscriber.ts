import type { Logger } from '@taskq/core';
import type { DataSource, EntitySubscriberInterface, TransactionCommitEvent, TransactionRollbackEvent } from 'typeorm';
import { dialectOf } from '../internal/dialect.js';
import { ownedRunners, publishCommitted } from './publish.js';
import { dropPending, takePending } from './stage.js';

/**
 * TypeORM's "publish now" signal for transactions taskq did not open
 * (`joinTransaction(manager, ...)` inside `dataSource.transaction()`,
 * typeorm-transactional, ...): after the outermost COMMIT of a runner that
 * has staged tasks, they are published; after its ROLLBACK they are
 * forgotten (the rows went with it). A savepoint release fires the same
 * event with the transaction still active, and is ignored.
 */
class OutboxCommitSubscriber implements EntitySubscriberInterface {
  readonly #dataSource: DataSource;
  readonly #logger: Logger;

  constructor(dataSource: DataSource, logger: Logger) {
    this.#dataSource = dataSource;
    this.#logger = logger;
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    const runner = event.queryRunner;
    if (runner.isTransactionActive || ownedRunners.has(runner)) return;
    const batches = takePending(runner);
    if (!batches) return;
    // Not awaited: the committing connection is still checked out here, and with a pool of
    // one the publish could never get a connection of its own. It never rejects.
    void publishCommitted(this.#dataSource, dialectOf(this.#dataSource, 'dataSource'), batches, this.#logger);
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    const runner = event.queryRunner;
    if (runner.isTransactionActive || ownedRunners.has(runner)) return;
    dropPending(runner);
  }
}

const installed = new WeakSet<DataSource>();

/** Adds the commit subscriber to `dataSource` once. */
export function installCommitSubscriber(dataSource: DataSource, logger: Logger): void {
  if (installed.has(dataSource)) return;
  installed.add(dataSource);
  dataSource.subscribers.push(new OutboxCommitSubscriber(dataSource, logger));
}
