import { createQueue, silentLogger, type TaskQueue, type Transport, TransportError } from '@taskq/core';
import { HEADER, type OutgoingMessage } from '@taskq/core/adapter';
import type { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { outboxRelay, sqlResultStore, transactional } from '../src/index.js';
import { deliverParcel, registry } from './fixtures/crash-tasks.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { faulty } from '../../../test-support/faulty-transport.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

const DAY = 86_400_000;

/**
 * Commits `parcels` tasks to the outbox while the broker refuses every publish (as if it was down at the
 * commit), so they are left for the relay. Resolves with their ids in submit order.
 */
async function leaveInOutbox(dataSource: DataSource, queueName: string, parcels: number): Promise<string[]> {
  const down = faulty(broker.amqp(), { fail: () => new TransportError('the broker is down (test)') });
  const queue = createQueue({
    registry,
    transport: down,
    store: sqlResultStore(dataSource),
    defaults: { queue: queueName },
  });
  const handles = await transactional(
    dataSource,
    queue,
    () =>
      queue.submitMany(
        deliverParcel,
        Array.from({ length: parcels }, (_, i): [string] => [`p${i + 1}`]),
      ),
    { logger: silentLogger },
  );
  await queue.close();
  return handles.map((h) => h.id);
}

/**
 * Faults of the relay's broker: publishing the ids in `refuse` fails like a broken connection; `down` fails everything.
 */
interface Faults {
  readonly refuse?: ReadonlySet<string>;
  down?: boolean;
}

/**
 * The relay's queue, on the real broker with `faults` injected (what the broker cannot do on demand for one message).
 */
function relayQueue(dataSource: DataSource, queueName: string, faults: Faults = {}): TaskQueue {
  const real = broker.amqp();
  const unreachable = () => Promise.reject(new TransportError('the broker is unreachable (test)'));
  const publish = (message: OutgoingMessage) =>
    faults.down
      ? unreachable()
      : faults.refuse?.has(message.id)
        ? Promise.reject(new TransportError('connection reset while publishing (test)'))
        : real.publish(message);
  const transport: Transport = {
    kind: real.kind,
    durable: real.durable,
    dead: real.dead,
    publish,
    publishMany: async (messages) => {
      await Promise.all(messages.map(publish));
    },
    consume: (options, onDelivery) => real.consume(options, onDelivery),
    deadLetter: (message) => (faults.down ? unreachable() : real.deadLetter(message)),
    retain: () => real.retain(),
    close: () => real.close(),
  };
  return createQueue({ registry, transport, store: sqlResultStore(dataSource), defaults: { queue: queueName } });
}

function countPerId(ids: readonly string[]): Map<string, number> {
  const perId = new Map<string, number>();
  for (const id of ids) perId.set(id, (perId.get(id) ?? 0) + 1);
  return perId;
}

describe.each<DbKind>(['postgres', 'sqlite'])('the outbox relay isolates a row it cannot publish (%s)', (kind) => {
  it("a row the transport refuses (an old version's `delay: '40d'`) is dead-lettered with the reason; the rest of its batch and the rows after it are published exactly once", async () => {
    const db = await TestDatabase.create(kind);
    try {
      const dataSource = await db.dataSource();
      const outboxTable = db.table('taskq_outbox');
      const queueName = broker.queue(`${kind}-far`);
      const ids = await leaveInOutbox(dataSource, queueName, 6);
      // What a version that did not check the delay at submit wrote for `with({ delay: '40d' })`.
      const far = ids[1];
      await dataSource.query(
        `UPDATE ${outboxTable} SET "available_at" = "created_at" + ${40 * DAY} WHERE "id" = ${db.param(1)}`,
        [far],
      );

      const queue = relayQueue(dataSource, queueName);
      // Two rows per batch: the refused row shares its batch with a good one, and four rows come after it.
      const relay = outboxRelay(dataSource, queue, { minAge: 0, batchSize: 2, logger: silentLogger });
      const sweeps: Array<number | string> = [];
      for (let i = 0; i < 3; i++)
        sweeps.push(await relay.sweep().catch((error: unknown) => `failed: ${(error as Error).message}`));

      const received = countPerId(await broker.drainQueue(queueName));
      const dead = await broker.drainDead();
      const left = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${outboxTable}`))[0].n);
      const good = ids.filter((id) => id !== far);
      console.log(
        `[${kind}] far delay: sweeps=${JSON.stringify(sweeps)} deliveries per good row=${JSON.stringify(good.map((id) => received.get(id) ?? 0))} ` +
          `far row delivered=${received.get(far) ?? 0} dead letters=${dead.length} (${dead.map((d) => d.headers[HEADER.reason]).join(',')}) outbox rows left=${left}`,
      );
      expect(sweeps).toEqual([5, 0, 0]);
      expect(good.map((id) => received.get(id) ?? 0)).toEqual([1, 1, 1, 1, 1]);
      expect(received.has(far)).toBe(false);
      expect(dead.map((d) => d.id)).toEqual([far]);
      expect(dead[0].headers[HEADER.reason]).toBe('unpublishable');
      expect(String(dead[0].headers[HEADER.error])).toContain('about 31 days');
      expect(dead[0].headers[HEADER.originalQueue]).toBe(queueName);
      expect(left).toBe(0);
      const status = await queue.status(far);
      expect(status?.state).toBe('dead');
      expect(status?.error?.message).toContain('about 31 days');
      expect((await queue.status(ids[0]))?.state).toBe('queued');
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('a row whose publish keeps failing is retried at each sweep with its tries on the row, then dead-lettered after maxPublishAttempts; it never holds back the others', async () => {
    const db = await TestDatabase.create(kind);
    try {
      const dataSource = await db.dataSource();
      const outboxTable = db.table('taskq_outbox');
      const queueName = broker.queue(`${kind}-flaky`);
      const ids = await leaveInOutbox(dataSource, queueName, 4);
      const stuck = ids[0];
      const queue = relayQueue(dataSource, queueName, { refuse: new Set([stuck]) });
      const relay = outboxRelay(dataSource, queue, {
        minAge: 0,
        batchSize: 2,
        maxPublishAttempts: 3,
        logger: silentLogger,
      });
      const row = async () =>
        (
          await dataSource.query(
            `SELECT "publish_attempts" AS tries, "last_error" AS error FROM ${outboxTable} WHERE "id" = ${db.param(1)}`,
            [stuck],
          )
        )[0] as { tries: number; error: string } | undefined;

      const first = await relay.sweep();
      const afterFirst = await row();
      const second = await relay.sweep();
      const afterSecond = await row();
      const third = await relay.sweep();
      const afterThird = await row();

      const received = countPerId(await broker.drainQueue(queueName));
      const dead = await broker.drainDead();
      const others = ids.filter((id) => id !== stuck);
      console.log(
        `[${kind}] failing row: published per sweep=${[first, second, third].join(',')} tries after each sweep=${[afterFirst, afterSecond, afterThird].map((r) => r?.tries ?? 'gone').join(',')} ` +
          `deliveries per other row=${JSON.stringify(others.map((id) => received.get(id) ?? 0))} dead letters=${dead.map((d) => d.id === stuck).join(',')}`,
      );
      expect([first, second, third]).toEqual([3, 0, 0]);
      expect(Number(afterFirst?.tries)).toBe(1);
      expect(afterFirst?.error).toContain('connection reset while publishing (test)');
      expect(Number(afterSecond?.tries)).toBe(2);
      expect(afterThird).toBeUndefined();
      expect(others.map((id) => received.get(id) ?? 0)).toEqual([1, 1, 1]);
      expect(received.has(stuck)).toBe(false);
      expect(dead.map((d) => d.id)).toEqual([stuck]);
      expect(dead[0].headers[HEADER.reason]).toBe('unpublishable');
      expect(String(dead[0].headers[HEADER.error])).toContain('3 tries');
      expect(String(dead[0].headers[HEADER.error])).toContain('connection reset while publishing (test)');
      expect((await queue.status(stuck))?.state).toBe('dead');
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('an outage is not a bad row: while the broker takes neither the rows nor a dead letter they are only counted, and published once it is back', async () => {
    const db = await TestDatabase.create(kind);
    try {
      const dataSource = await db.dataSource();
      const outboxTable = db.table('taskq_outbox');
      const queueName = broker.queue(`${kind}-outage`);
      const ids = await leaveInOutbox(dataSource, queueName, 3);
      const faults: Faults = { down: true };
      const queue = relayQueue(dataSource, queueName, faults);
      const relay = outboxRelay(dataSource, queue, {
        minAge: 0,
        batchSize: 2,
        maxPublishAttempts: 2,
        logger: silentLogger,
      });
      const during: number[] = [];
      for (let i = 0; i < 3; i++) during.push(await relay.sweep());
      const tries = (
        await dataSource.query(`SELECT "publish_attempts" AS tries FROM ${outboxTable} ORDER BY "id"`)
      ).map((r: { tries: unknown }) => Number(r.tries));
      faults.down = false;
      const after = await relay.sweep();

      const received = countPerId(await broker.drainQueue(queueName));
      const dead = await broker.drainDead();
      const left = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${outboxTable}`))[0].n);
      console.log(
        `[${kind}] outage: published per sweep while down=${during.join(',')} tries then=${tries.join(',')}; after recovery published=${after} ` +
          `deliveries=${JSON.stringify(ids.map((id) => received.get(id) ?? 0))} dead letters=${dead.length} outbox rows left=${left}`,
      );
      expect(during).toEqual([0, 0, 0]);
      // Nothing got through in the first batch, so each sweep stopped there: the first two rows were tried, the third
      // waited.
      expect(tries).toEqual([3, 3, 0]);
      expect(after).toBe(3);
      expect(ids.map((id) => received.get(id) ?? 0)).toEqual([1, 1, 1]);
      expect(dead).toEqual([]);
      expect(left).toBe(0);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });
});
