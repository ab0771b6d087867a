import { InvalidOptionError, type Logger, type TaskQueue } from '@taskq/core';
import { parseDuration, useLogger } from '@taskq/core/adapter';
import { OutboxRelayStartedError } from './errors.js';
import type { DataSource } from 'typeorm';
import { OutboxEntity } from './entities.js';
import { type Dialect, dialectOf, tableOf } from './internal/dialect.js';
import { type Cursor, publishOutbox } from './outbox/publish.js';
import type { FailurePolicy } from './outbox/unpublishable.js';

/** Options of {@link outboxRelay}. */
export interface OutboxRelayOptions {
  /**
   * Time between two sweeps for rows left behind (a process died between
   * its commit and its publish, or the broker was down).
   * @defaultValue `'5s'`
   */
  readonly sweepInterval?: number | string;
  /**
   * Rows younger than this are left to the process that committed them,
   * which publishes at once; the sweep is for leftovers. The committing
   * process publishes rows up to 1 s old from memory without locking them
   * (it locks those still unpublished at 1 s): under 1 s, this relay may
   * publish such a row of another process too (a duplicate). The rows the
   * committing code of this relay's own process holds are skipped whatever
   * this is.
   * @defaultValue `'2s'`
   */
  readonly minAge?: number | string;
  /**
   * Rows claimed, published and deleted per transaction.
   * @defaultValue `100`
   */
  readonly batchSize?: number;
  /**
   * Failed publishes of one row (counted on the row, across sweeps) before
   * the relay gives up on it and dead-letters the task with the reason
   * `unpublishable`. A row the transport refuses outright (an option out of
   * its limits, a malformed row) is dead-lettered at once. Either way the
   * other rows are published as usual.
   * @defaultValue `5`
   */
  readonly maxPublishAttempts?: number;
  /** @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

/**
 * The outbox relay of one process. Tasks committed through `transactional()`
 * or a request transaction are published right after their commit by the
 * committing code, from memory; the relay sweeps what was left behind. A row it cannot
 * publish fails alone: the rows confirmed around it are deleted, the rows
 * after it are published, and after `maxPublishAttempts` it is dead-lettered. Run one in every
 * process that submits (or in a few of them): on PostgreSQL any number of
 * relays sweep the same table and none publishes a row another one holds.
 * On SQLite run one relay per database file.
 */
export class OutboxRelay {
  readonly dataSource: DataSource;
  readonly queue: TaskQueue;
  readonly #dialect: Dialect;
  readonly #intervalMs: number;
  readonly #minAgeMs: number;
  readonly #batchSize: number;
  readonly #policy: FailurePolicy;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #state: 'idle' | 'running' | 'stopped' = 'idle';

  constructor(dataSource: DataSource, queue: TaskQueue, options: OutboxRelayOptions = {}) {
    this.#dialect = dialectOf(dataSource, 'dataSource');
    if (!queue || typeof queue.begin !== 'function' || !queue.transport)
      throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue()');
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object');
    this.dataSource = dataSource;
    this.queue = queue;
    this.#intervalMs = parseDuration(options.sweepInterval ?? '5s', 'sweepInterval');
    if (this.#intervalMs < 10)
      throw new InvalidOptionError('sweepInterval', `expected at least 10 ms, got ${this.#intervalMs}`);
    this.#minAgeMs = parseDuration(options.minAge ?? '2s', 'minAge');
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new InvalidOptionError('batchSize', `expected an integer 1-10000, got ${batchSize}`);
    this.#batchSize = batchSize;
    const maxAttempts = options.maxPublishAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1_000)
      throw new InvalidOptionError('maxPublishAttempts', `expected an integer 1-1000, got ${maxAttempts}`);
    this.#policy = { maxAttempts };
    this.#logger = useLogger(options.logger);
  }

  /** Checks the outbox table is known, sweeps once, then every `sweepInterval` until `stop()`. */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new OutboxRelayStartedError(`the outbox relay is ${this.#state}; it starts once`);
    tableOf(this.dataSource, OutboxEntity);
    this.#state = 'running';
    await this.#tick();
  }

  /** Stops sweeping; resolves once a sweep in progress finished. Safe to call more than once. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => 0);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Publishes every outbox row older than `minAge`, batch by batch, until
   * none is left (rows another relay holds are skipped). Resolves with the
   * number this relay published.
   */
  sweep(): Promise<number> {
    // One sweep at a time per relay; a call during a sweep waits for it.
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(): Promise<number> {
    let total = 0;
    let failed = 0;
    let firstError: unknown;
    const createdBefore = Date.now() - this.#minAgeMs;
    let after: Cursor | undefined;
    for (;;) {
      const outcome = await publishOutbox(
        this.dataSource,
        this.#dialect,
        this.queue,
        { createdBefore, limit: this.#batchSize, after },
        this.#policy,
      );
      total += outcome.published;
      failed += outcome.failed;
      firstError ??= outcome.firstError;
      for (const dead of outcome.dead) {
        this.#logger.error(`outbox relay dead-lettered task ${dead.id} (${dead.task}): ${dead.error.message}`, {
          id: dead.id,
          task: dead.task,
        });
      }
      after = outcome.last;
      // A whole batch that failed and could not be dead-lettered is the broker, not the rows: stop until the next
      // sweep.
      const brokerDown = outcome.claimed > 0 && outcome.failed === outcome.claimed;
      if (outcome.claimed < this.#batchSize || brokerDown || this.#state === 'stopped') break;
    }
    if (total > 0) this.#logger.info(`outbox relay published ${total} task(s) left behind`);
    if (failed > 0)
      this.#logger.warn(
        `outbox relay could not publish ${failed} task(s); they stay in the outbox for the next sweep`,
        { error: firstError },
      );
    return total;
  }

  async #tick(): Promise<void> {
    try {
      await this.sweep();
    } catch (error) {
      this.#logger.warn('outbox sweep failed; retrying at the next interval', { error });
    }
    if (this.#state !== 'running') return;
    this.#timer = setTimeout(() => void this.#tick(), this.#intervalMs);
    // A relay alone must not keep a process alive that has nothing else to do.
    this.#timer.unref();
  }
}

/**
 * Creates the outbox relay for `dataSource`, publishing through `queue`'s
 * transport. `await relay.start()` in each process; `await relay.stop()` on shutdown.
 */
export function outboxRelay(dataSource: DataSource, queue: TaskQueue, options?: OutboxRelayOptions): OutboxRelay {
  return new OutboxRelay(dataSource, queue, options);
}
