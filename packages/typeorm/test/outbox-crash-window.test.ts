import { createQueue, createWorker, silentLogger } from '@taskq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { outboxRelay, sqlResultStore } from '../src/index.js';
import { deliveries, registry } from './fixtures/crash-tasks.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { commitAndCrash } from './support/child.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

describe.each<DbKind>(['postgres', 'sqlite'])('crash between commit and publish (%s)', (kind) => {
  it('a child SIGKILLed after its commit, before publishing: the relay here publishes its tasks, each runs exactly once', async () => {
    const db = await TestDatabase.create(kind);
    try {
      const dataSource = await db.dataSource();
      const queueName = broker.queue(`${kind}-crash`);
      const exit = await commitAndCrash(db, broker, queueName, 3);
      expect(exit.signal, exit.stderr).toBe('SIGKILL');
      expect(exit.survived).toBe(false);
      const ids = exit.ids;
      expect(ids).toHaveLength(3);

      // Committed (the outbox and the status rows are there), never published.
      const transport = broker.amqp();
      const store = sqlResultStore(dataSource);
      const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
      const before = await Promise.all(ids.map((id) => queue.status(id)));
      const outboxBefore = Number(
        (await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n,
      );
      const depthBefore = await broker.depth(queueName);
      expect(before.map((s) => s?.state)).toEqual(['queued', 'queued', 'queued']);
      expect(outboxBefore).toBe(3);
      expect(depthBefore).toBe(0);

      const ran = new Map<string, number>();
      const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger });
      worker.on('completed', (event) => ran.set(event.id, (ran.get(event.id) ?? 0) + 1));
      await worker.start();
      const relay = outboxRelay(dataSource, queue, { sweepInterval: 100, minAge: 0, logger: silentLogger });
      await relay.start();
      await waitFor(() => ran.size === 3, 'the three tasks to run');
      await sleep(500);
      await relay.stop();
      const outboxAfter = Number(
        (await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n,
      );
      const after = await Promise.all(ids.map((id) => queue.status(id)));
      console.log(
        `[${kind}] crash window: child exit signal=${exit.signal} submitted=${ids.length} outbox rows before=${outboxBefore} broker depth before=${depthBefore} ` +
          `→ runs per id=${JSON.stringify(ids.map((id) => ran.get(id) ?? 0))} lost=${ids.filter((id) => !ran.has(id)).length} duplicated=${[...ran.values()].filter((n) => n > 1).length} outbox rows after=${outboxAfter}`,
      );
      expect(ids.map((id) => ran.get(id))).toEqual([1, 1, 1]);
      expect([...deliveries].sort()).toEqual(['p1', 'p2', 'p3']);
      expect(after.map((s) => s?.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(outboxAfter).toBe(0);
      await worker.stop();
      await queue.close();
      deliveries.splice(0);
    } finally {
      await db.cleanup();
    }
  });

  it('control: without the fail-point the committing process publishes at once and leaves no outbox row', async () => {
    const db = await TestDatabase.create(kind);
    try {
      const dataSource = await db.dataSource();
      const queueName = broker.queue(`${kind}-control`);
      const exit = await commitAndCrash(db, broker, queueName, 3, false);
      expect(exit.code, exit.stderr).toBe(0);
      expect(exit.survived).toBe(true);
      const outboxRows = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
      const depth = await broker.depth(queueName);
      console.log(
        `[${kind}] control: child exit code=${exit.code} submitted=${exit.ids.length} outbox rows=${outboxRows} broker depth=${depth}`,
      );
      expect(outboxRows).toBe(0);
      expect(depth).toBe(3);
    } finally {
      await db.cleanup();
    }
  });
});
