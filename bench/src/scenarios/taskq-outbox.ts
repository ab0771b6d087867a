/**
 * taskq's transactional outbox (@taskq/typeorm) on PostgreSQL, child side.
 *
 * `transactions`: each task is submitted inside `transactional(dataSource,
 * queue, fn)` next to one small INSERT of the application's own (the bench
 * table), `inFlight` transactions at once, as from that many web requests.
 * `transactional()` INSERTs the task into `taskq_outbox` in the transaction,
 * COMMITs, publishes it from memory, deletes its outbox row (in a DELETE
 * shared with the other transactions committed meanwhile) and only then resolves.
 *
 * `baseline`: the same transactions, `dataSource.transaction()` with the same
 * INSERT and nothing else, no taskq used: what the outbox is compared with.
 *
 * `after-commit`: the baseline's transactions, each followed by `queue.submit()`
 * once it committed (no outbox: a crash in between loses the task). The floor of
 * publishing one task per transaction; commit → confirm as for `transactions`.
 *
 * Commit → publish latency: the COMMIT's end is taken from TypeORM's
 * `afterTransactionCommit` event of the transaction's query runner (fired
 * right after the COMMIT query resolved); the publish from the transport's
 * `publish` resolving (the broker confirmed the message); the time it was
 * called splits that into taskq's part (COMMIT → publish called) and the
 * broker's (publish → confirm). The hooks only read the clock.
 *
 * `relay`: a process committed N tasks and could not publish them (its
 * transport fails, as with the broker down: `transactional()` logs it and
 * leaves the rows to the relay); then `outboxRelay(...).sweep()` on a working
 * transport publishes them all, batch by batch.
 */
import { amqp, createQueue, memory, silentLogger, type TaskQueue, type Transport } from '@taskq/core';
import type { OutgoingMessage } from '@taskq/core/adapter';
import { outboxRelay, taskqEntities, transactional } from '@taskq/typeorm';
import {
  DataSource,
  type EntityManager,
  type EntitySubscriberInterface,
  type QueryRunner,
  type TransactionCommitEvent,
} from 'typeorm';
import { now } from '../clock.js';
import { AMQP_URL, BENCH_TABLE, PG_URL } from '../config.js';
import type { OutboxConfig } from '../ipc.js';
import { add } from '../tasks.js';
import { registry } from './taskq-registry.js';

/** The same warm-up queue name as the taskq amqp scenario, so its admin deletes it too. */
function warmupQueue(queue: string): string {
  return `${queue}-warmup`;
}

export interface OutboxResult {
  readonly startedAt: number;
  readonly startedCpuUs: number;
  readonly transactions: number;
  readonly tasks: number;
  readonly commitToPublish: number[];
  /** Per transaction: COMMIT resolved → its first publish called (what taskq does in between). */
  readonly commitToSend: number[];
  readonly unconfirmed: number;
}

/** Records when each query runner's COMMIT resolved. */
class CommitClock implements EntitySubscriberInterface {
  readonly at = new WeakMap<QueryRunner, number>();

  afterTransactionCommit(event: TransactionCommitEvent): void {
    this.at.set(event.queryRunner, now());
  }
}

/**
 * Wraps `publish` to note when the broker confirmed each message id, and to count published messages. The amqp
 * transport's `publishMany` publishes through `this.publish`, so it is counted once, here.
 */
function confirmClock(transport: Transport): {
  sentAt: Map<string, number>;
  confirmedAt: Map<string, number>;
  published: () => number;
} {
  const sentAt = new Map<string, number>();
  const confirmedAt = new Map<string, number>();
  let published = 0;
  const original = transport.publish.bind(transport);
  transport.publish = async (message: OutgoingMessage): Promise<void> => {
    sentAt.set(message.id, now());
    await original(message);
    confirmedAt.set(message.id, now());
    published++;
  };
  return { sentAt, confirmedAt, published: () => published };
}

async function openDataSource(config: OutboxConfig): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema: config.schema,
    entities: taskqEntities,
    poolSize: config.poolSize,
    applicationName: config.applicationName,
    logging: false,
  });
  await dataSource.initialize();
  return dataSource;
}

async function insertRow(manager: EntityManager, schema: string, sentAt: number): Promise<void> {
  await manager.query(`INSERT INTO "${schema}"."${BENCH_TABLE}" ("sent_at", "note") VALUES ($1, $2)`, [
    sentAt,
    'bench order',
  ]);
}

export interface OutboxSession {
  /** Resolves with the measurement once every transaction committed and published (or the sweep ended). */
  run(started: (at: number) => void): Promise<OutboxResult>;
  /** Messages published so far (progress for the parent's watchdog). */
  progress(): number;
  close(): Promise<void>;
}

/** Connects, sets up and warms up (untimed); the returned session runs the measurement. */
export async function openOutboxSession(config: OutboxConfig, cpuUs: () => number): Promise<OutboxSession> {
  if (config.measure === 'relay') return openRelay(config, cpuUs);
  return config.measure === 'baseline' ? openBaseline(config, cpuUs) : openTransactions(config, cpuUs);
}

async function openBaseline(config: OutboxConfig, cpuUs: () => number): Promise<OutboxSession> {
  const dataSource = await openDataSource(config);
  // The outbox row's commit clock, unread here: both rows pay for the same TypeORM subscriber.
  dataSource.subscribers.push(new CommitClock());
  // Warm-up, untimed, as the outbox row does: every pool connection and the JIT.
  await Promise.all(
    Array.from({ length: config.inFlight }, () =>
      dataSource.transaction((manager) => insertRow(manager, config.schema, now())),
    ),
  );
  const total = config.count;
  let committed = 0;
  return {
    progress: () => committed,
    async run(started) {
      let begun = 0;
      const startedCpuUs = cpuUs();
      const startedAt = now();
      started(startedAt);
      const lane = async (): Promise<void> => {
        while (begun < total) {
          begun++;
          const sentAt = now();
          await dataSource.transaction((manager) => insertRow(manager, config.schema, sentAt));
          committed++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(config.inFlight, total) }, lane));
      return {
        startedAt,
        startedCpuUs,
        transactions: total,
        tasks: 0,
        commitToPublish: [],
        commitToSend: [],
        unconfirmed: 0,
      };
    },
    async close() {
      await dataSource.destroy();
    },
  };
}

async function openTransactions(config: OutboxConfig, cpuUs: () => number): Promise<OutboxSession> {
  const dataSource = await openDataSource(config);
  const commits = new CommitClock();
  dataSource.subscribers.push(commits);
  const transport = amqp({ url: AMQP_URL });
  const confirms = confirmClock(transport);
  const root = createQueue({ registry, transport });
  const queue = root.with({ queue: config.queue });

  const afterCommit = config.measure === 'after-commit';
  /**
   * One transaction with its INSERT and `per` tasks for `target`: through the outbox, or (after-commit) submitted once
   * it committed. Resolves with the task ids and the transaction's query runner (the key of its COMMIT's clock).
   */
  const oneTransaction = async (
    target: TaskQueue,
    sentAt: number,
    per: number,
  ): Promise<{ ids: string[]; runner: QueryRunner | undefined }> => {
    let runner: QueryRunner | undefined;
    const submit = async (): Promise<string[]> => {
      if (per === 1) return [(await target.submit(add, 1, 2, sentAt)).id];
      const handles = await target.submitMany(
        add,
        Array.from({ length: per }, (): [number, number, number] => [1, 2, sentAt]),
      );
      return handles.map((h) => h.id);
    };
    const insert = (manager: EntityManager): Promise<void> => {
      runner = manager.queryRunner;
      return insertRow(manager, config.schema, sentAt);
    };
    if (afterCommit) {
      await dataSource.transaction(insert);
      return { ids: await submit(), runner };
    }
    const ids = await transactional(dataSource, root, async (manager) => {
      await insert(manager);
      return submit();
    });
    return { ids, runner };
  };

  // Warm-up, untimed: the broker connection, every pool connection and the JIT, with as many transactions at once as
  // measured, one task each.
  const warm = root.with({ queue: warmupQueue(config.queue) });
  await Promise.all(Array.from({ length: config.inFlight }, () => oneTransaction(warm, now(), 1)));
  confirms.confirmedAt.clear();
  confirms.sentAt.clear();

  const per = config.perTransaction;
  const total = Math.ceil(config.count / per);
  return {
    progress: () => confirms.published() - config.inFlight,
    async run(started) {
      const commitToPublish: number[] = [];
      const commitToSend: number[] = [];
      let unconfirmed = 0;
      let begun = 0;
      const startedCpuUs = cpuUs();
      const startedAt = now();
      started(startedAt);
      const lane = async (): Promise<void> => {
        while (begun < total) {
          begun++;
          const sentAt = now();
          const { ids, runner } = await oneTransaction(queue, sentAt, per);
          const committedAt = runner ? commits.at.get(runner) : undefined;
          // The transaction's tasks are published when the last of them is confirmed.
          let confirmedAt: number | undefined = 0;
          let publishedAt = Number.POSITIVE_INFINITY;
          for (const id of ids) {
            const at = confirms.confirmedAt.get(id);
            confirmedAt = at === undefined || confirmedAt === undefined ? undefined : Math.max(confirmedAt, at);
            publishedAt = Math.min(publishedAt, confirms.sentAt.get(id) ?? Number.POSITIVE_INFINITY);
            confirms.confirmedAt.delete(id);
            confirms.sentAt.delete(id);
          }
          if (committedAt === undefined || confirmedAt === undefined) unconfirmed++;
          else {
            commitToPublish.push(confirmedAt - committedAt);
            commitToSend.push(publishedAt - committedAt);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(config.inFlight, total) }, lane));
      return {
        startedAt,
        startedCpuUs,
        transactions: total,
        tasks: total * per,
        commitToPublish,
        commitToSend,
        unconfirmed,
      };
    },
    async close() {
      await root.close();
      await dataSource.destroy();
    },
  };
}

/** A transport that cannot publish, like a broker that is down. */
function downTransport(): Transport {
  const transport = memory();
  transport.publish = () => Promise.reject(new Error('broker down (simulated by the bench)'));
  transport.publishMany = () => Promise.reject(new Error('broker down (simulated by the bench)'));
  return transport;
}

async function openRelay(config: OutboxConfig, cpuUs: () => number): Promise<OutboxSession> {
  const dataSource = await openDataSource(config);

  // Leave `count` committed, unpublished rows behind, 100 per transaction.
  const down = createQueue({ registry, transport: downTransport() });
  const downView = down.with({ queue: config.queue });
  for (let left = 0; left < config.count; ) {
    const n = Math.min(100, config.count - left);
    await transactional(
      dataSource,
      down,
      () =>
        downView.submitMany(
          add,
          Array.from({ length: n }, (): [number, number, number] => [1, 2, now()]),
        ),
      { logger: silentLogger },
    );
    left += n;
  }
  await down.close();

  const transport = amqp({ url: AMQP_URL });
  const confirms = confirmClock(transport);
  const root: TaskQueue = createQueue({ registry, transport });
  // Connect before the clock starts, as the other taskq producers do.
  await root.with({ queue: warmupQueue(config.queue) }).submit(add, 0, 0);
  const relay = outboxRelay(dataSource, root, { minAge: 0, batchSize: config.batchSize, logger: silentLogger });

  return {
    progress: () => confirms.published(),
    async run(started) {
      const startedCpuUs = cpuUs();
      const startedAt = now();
      started(startedAt);
      const published = await relay.sweep();
      return {
        startedAt,
        startedCpuUs,
        transactions: Math.ceil(published / config.batchSize),
        tasks: published,
        commitToPublish: [],
        commitToSend: [],
        unconfirmed: 0,
      };
    },
    async close() {
      await relay.stop();
      await root.close();
      await dataSource.destroy();
    },
  };
}
