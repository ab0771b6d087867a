import { createQueue, type Logger, silentLogger, type TaskQueue, TransportError } from '@taskq/core';
import type { DataSource, EntitySubscriberInterface } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { joinTransaction, outboxRelay, sqlResultStore, transactional } from '../src/index.js';
import { deliverParcel, registry } from './fixtures/crash-tasks.js';
import { commitAndCrash } from './support/child.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { gated } from './support/gated-transport.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { faulty } from '../../../test-support/faulty-transport.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

/** Every statement TypeORM ran on `dataSource` that names the outbox table, in order. */
function outboxStatements(dataSource: DataSource): string[] {
  const seen: string[] = [];
  const recorder: EntitySubscriberInterface = {
    afterQuery(event) {
      if (event.query.includes('taskq_outbox')) seen.push(event.query.trim().split(/\s+/)[0].toUpperCase());
    },
  };
  dataSource.subscribers.push(recorder);
  return seen;
}

function perId(ids: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

function collecting(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (message) => warnings.push(message) };
}

describe.each<DbKind>(['postgres', 'sqlite'])('publishing after the commit, from memory (%s)', (kind) => {
  async function open(): Promise<{ db: TestDatabase; dataSource: DataSource; outside: DataSource }> {
    const db = await TestDatabase.create(kind);
    const dataSource = await db.dataSource();
    // A second DataSource: sees only what was committed, and holds nothing of the first one's (like another process).
    const outside = await db.dataSource([], { synchronize: false });
    return { db, dataSource, outside };
  }
  const count = async (db: TestDatabase, outside: DataSource): Promise<number> =>
    Number((await outside.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);

  it('the committed row is published at once, with no relay and no read of the outbox, and deleted only once the broker confirmed it', async () => {
    const { db, dataSource, outside } = await open();
    try {
      const statements = outboxStatements(dataSource);
      const queueName = broker.queue(`${kind}-memory`);
      const transport = gated(broker.amqp());
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const committed = transactional(dataSource, queue, () => queue.submit(deliverParcel, 'p1'));
      await waitFor(() => transport.waiting() === 1, 'the publish after the commit');
      const rowsWhilePublishing = await count(db, outside);
      const statementsWhilePublishing = [...statements];
      transport.open();
      const handle = await committed;
      const rowsAfter = await count(db, outside);
      const depth = await broker.depth(queueName);
      console.log(
        `[${kind}] from memory: outbox rows while the publish waited=${rowsWhilePublishing}, after=${rowsAfter}; ` +
          `outbox statements=${statements.join(',')}; broker depth=${depth}`,
      );
      expect(rowsWhilePublishing).toBe(1);
      expect(statementsWhilePublishing).toEqual(['INSERT']);
      expect(statements).toEqual(['INSERT', 'DELETE']);
      expect(rowsAfter).toBe(0);
      expect(await broker.drainQueue(queueName)).toEqual([handle.id]);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('nothing is published for work that was undone: a rollback, a rolled-back savepoint (TypeORM or raw SQL), in transactional() and in joinTransaction()', async () => {
    const { db, dataSource, outside } = await open();
    try {
      const queueName = broker.queue(`${kind}-undone`);
      const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const kept: string[] = [];
      const undone: string[] = [];

      await expect(
        transactional(dataSource, queue, async () => {
          undone.push((await queue.submit(deliverParcel, 'rolled back')).id);
          throw new Error('declined');
        }),
      ).rejects.toThrow('declined');

      await transactional(dataSource, queue, async (manager) => {
        kept.push((await queue.submit(deliverParcel, 'before the savepoint')).id);
        await manager
          .transaction(async () => {
            undone.push((await queue.submit(deliverParcel, 'in a TypeORM savepoint')).id);
            throw new Error('inner failure');
          })
          .catch(() => undefined);
        await manager.query('SAVEPOINT taskq_test');
        undone.push((await queue.submit(deliverParcel, 'in a raw savepoint')).id);
        await manager.query('ROLLBACK TO SAVEPOINT taskq_test');
        kept.push((await queue.submit(deliverParcel, 'after the savepoints')).id);
      });

      await dataSource.transaction(async (manager) => {
        await joinTransaction(manager, queue, async () => {
          kept.push((await queue.submit(deliverParcel, 'joined')).id);
        });
        await manager.query('SAVEPOINT taskq_join');
        await joinTransaction(manager, queue, async () => {
          undone.push((await queue.submit(deliverParcel, 'joined, in a raw savepoint')).id);
        });
        await manager.query('ROLLBACK TO SAVEPOINT taskq_join');
      });
      // joinTransaction() publishes after the commit without making the caller wait.
      await waitFor(async () => (await count(db, outside)) === 0, 'the joined transaction to be published');

      const received = await broker.drainQueue(queueName);
      console.log(
        `[${kind}] undone work: published ${received.length} (kept ${kept.length}), undone published=${undone.filter((id) => received.includes(id)).length}`,
      );
      expect([...received].sort()).toEqual([...kept].sort());
      expect(await count(db, outside)).toBe(0);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it("this process's relay leaves alone the rows its committing code is publishing, even with minAge 0", async () => {
    const { db, dataSource, outside } = await open();
    try {
      const queueName = broker.queue(`${kind}-held`);
      const transport = gated(broker.amqp());
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const relayQueue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const relay = outboxRelay(dataSource, relayQueue, { minAge: 0, logger: silentLogger });
      const committed = transactional(dataSource, queue, () =>
        queue.submitMany(deliverParcel, [['p1'], ['p2'], ['p3']]),
      );
      await waitFor(() => transport.waiting() === 3, 'the publishes after the commit');
      const sweptWhilePublishing = await relay.sweep();
      const rowsWhilePublishing = await count(db, outside);
      transport.open();
      const handles = await committed;
      const sweptAfter = await relay.sweep();
      const received = perId(await broker.drainQueue(queueName));
      console.log(
        `[${kind}] held rows: sweep while publishing=${sweptWhilePublishing} (rows ${rowsWhilePublishing}), sweep after=${sweptAfter}, ` +
          `deliveries per id=${JSON.stringify(handles.map((h) => received.get(h.id) ?? 0))}`,
      );
      expect(rowsWhilePublishing).toBe(3);
      expect(sweptWhilePublishing).toBe(0);
      expect(sweptAfter).toBe(0);
      expect(handles.map((h) => received.get(h.id) ?? 0)).toEqual([1, 1, 1]);
      expect(received.size).toBe(3);
      await relay.stop();
      await queue.close();
      await relayQueue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('the broker down at the commit: transactional() still resolves, the rows stay (status queued), and the sweep publishes them once the broker is back', async () => {
    const { db, dataSource, outside } = await open();
    try {
      const queueName = broker.queue(`${kind}-down`);
      const store = sqlResultStore(dataSource);
      const logger = collecting();
      const down = faulty(broker.amqp(), { fail: () => new TransportError('the broker is down (test)') });
      const queue = createQueue({ registry, transport: down, store, defaults: { queue: queueName } });
      const handles = await transactional(dataSource, queue, () => queue.submitMany(deliverParcel, [['p1'], ['p2']]), {
        logger,
      });
      const rowsLeft = await count(db, outside);
      const states = await Promise.all(handles.map(async (h) => (await queue.status(h.id))?.state));
      const depthWhileDown = await broker.depth(queueName);

      const upQueue = createQueue({ registry, transport: broker.amqp(), store, defaults: { queue: queueName } });
      const relay = outboxRelay(dataSource, upQueue, { minAge: 0, logger: silentLogger });
      const swept = await relay.sweep();
      const received = perId(await broker.drainQueue(queueName));
      console.log(
        `[${kind}] broker down: rows left=${rowsLeft} states=${states.join(',')} depth=${depthWhileDown} warnings=${logger.warnings.length}; ` +
          `swept=${swept} deliveries per id=${JSON.stringify(handles.map((h) => received.get(h.id) ?? 0))} rows after=${await count(db, outside)}`,
      );
      expect(rowsLeft).toBe(2);
      expect(states).toEqual(['queued', 'queued']);
      expect(depthWhileDown).toBe(0);
      expect(logger.warnings.some((w) => w.includes("the relay's sweep publishes them"))).toBe(true);
      expect(swept).toBe(2);
      expect(handles.map((h) => received.get(h.id) ?? 0)).toEqual([1, 1]);
      expect(await count(db, outside)).toBe(0);
      await relay.stop();
      await queue.close();
      await upQueue.close();
    } finally {
      await db.cleanup();
    }
  });
});

describe('publishing after the commit: PostgreSQL only', () => {
  it('a COMMIT that PostgreSQL answers with ROLLBACK (a statement had failed) publishes nothing', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      const queueName = broker.queue('pg-aborted');
      const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      let id = '';
      await transactional(dataSource, queue, async (manager) => {
        id = (await queue.submit(deliverParcel, 'never committed')).id;
        // The failure is swallowed, but PostgreSQL has aborted the transaction: its COMMIT rolls back.
        await manager.query('SELECT * FROM taskq_no_such_table').catch(() => undefined);
      });
      const rows = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
      // Never published, so never declared: depth reads 0 either way.
      const depth = await broker.depth(queueName);
      console.log(`aborted transaction: outbox rows=${rows} broker depth=${depth} (id ${id})`);
      expect(id).not.toBe('');
      expect(rows).toBe(0);
      expect(depth).toBe(0);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it("a long transaction's rows are claimed before they are published: a relay of another process, which counts them as left behind, skips them", async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      // Another process's relay: its own DataSource, default minAge (2 s).
      const other = await db.dataSource([], { synchronize: false });
      const queueName = broker.queue('pg-long');
      const transport = gated(broker.amqp());
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const otherQueue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const relay = outboxRelay(other, otherQueue, { logger: silentLogger });
      const committed = transactional(dataSource, queue, async () => {
        const handle = await queue.submit(deliverParcel, 'slow');
        await sleep(2_300); // the row is older than the relay's minAge when the transaction commits
        return handle;
      });
      await waitFor(() => transport.waiting() === 1, 'the publish after the commit');
      const sweptWhilePublishing = await relay.sweep();
      transport.open();
      const handle = await committed;
      const sweptAfter = await relay.sweep();
      const received = perId(await broker.drainQueue(queueName));
      console.log(
        `long transaction: other relay swept ${sweptWhilePublishing} while the committing process published, ${sweptAfter} after; deliveries=${received.get(handle.id) ?? 0}`,
      );
      expect(sweptWhilePublishing).toBe(0);
      expect(sweptAfter).toBe(0);
      expect(received.get(handle.id)).toBe(1);
      expect(received.size).toBe(1);
      await relay.stop();
      await queue.close();
      await otherQueue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('a publish still unconfirmed when its row turns 1 s old locks the row: a relay of another process, which counts it as left behind at 2 s, skips it', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      const other = await db.dataSource([], { synchronize: false });
      const queueName = broker.queue('pg-slow-confirm');
      const transport = gated(broker.amqp());
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const otherQueue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const relay = outboxRelay(other, otherQueue, { logger: silentLogger });
      const committed = transactional(dataSource, queue, () => queue.submit(deliverParcel, 'slow broker'));
      await waitFor(() => transport.waiting() === 1, 'the publish after the commit');
      await sleep(2_300); // the broker has not confirmed yet; the row is past the relay's minAge
      const rowsWhilePublishing = Number(
        (await other.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n,
      );
      const sweptWhilePublishing = await relay.sweep();
      transport.open();
      const handle = await committed;
      const sweptAfter = await relay.sweep();
      const received = perId(await broker.drainQueue(queueName));
      const left = Number((await other.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
      console.log(
        `slow confirm: row still there=${rowsWhilePublishing}, other relay swept ${sweptWhilePublishing} while the confirm was awaited, ${sweptAfter} after; deliveries=${received.get(handle.id) ?? 0}; rows left=${left}`,
      );
      expect(rowsWhilePublishing).toBe(1);
      expect(sweptWhilePublishing).toBe(0);
      expect(sweptAfter).toBe(0);
      expect(received.get(handle.id)).toBe(1);
      expect(received.size).toBe(1);
      expect(left).toBe(0);
      await relay.stop();
      await queue.close();
      await otherQueue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('a process killed after its COMMIT leaves rows that the relay here publishes exactly once each, while this process keeps publishing its own commits from memory', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      const queueName = broker.queue('pg-crash-and-live');
      const queue: TaskQueue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const relay = outboxRelay(dataSource, queue, { sweepInterval: 50, minAge: 0, logger: silentLogger });
      await relay.start();
      const live: string[] = [];
      let stop = false;
      const committing = (async () => {
        while (!stop || live.length < 100) {
          const handle = await transactional(dataSource, queue, () => queue.submit(deliverParcel, 'live'));
          live.push(handle.id);
        }
      })();
      const crashed = await commitAndCrash(db, broker, queueName, 200);
      stop = true;
      await committing;
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      await waitFor(
        async () =>
          Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n) === 0,
        'the outbox to be empty',
      );
      await relay.stop();
      const received = perId(await broker.drainQueue(queueName));
      const all = [...live, ...crashed.ids];
      const duplicated = all.filter((id) => (received.get(id) ?? 0) > 1).length;
      const lost = all.filter((id) => !received.has(id)).length;
      console.log(
        `crash and live commits: ${crashed.ids.length} left by the killed child, ${live.length} committed here; ` +
          `received ${[...received.values()].reduce((a, b) => a + b, 0)} messages, ${received.size} ids, duplicated=${duplicated} lost=${lost}`,
      );
      expect(crashed.ids).toHaveLength(200);
      expect(duplicated).toBe(0);
      expect(lost).toBe(0);
      expect(received.size).toBe(all.length);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });
});
