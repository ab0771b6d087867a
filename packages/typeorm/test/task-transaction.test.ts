import { createQueue, createWorker, currentTask, silentLogger, TaskRegistry } from '@taskq/core';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentEntityManager, sqlResultStore, transactional, taskTransaction } from '../src/index.js';
import { Effect } from './fixtures/entities.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

describe.each<DbKind>(['postgres', 'sqlite'])('per-task transaction (%s)', (kind) => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await TestDatabase.create(kind);
    dataSource = await db.dataSource([Effect]);
  });
  afterAll(() => db.cleanup());

  it('a throwing attempt rolls back its writes; the retry writes once', async () => {
    const attempts: number[] = [];
    async function importOrders(batch: string) {
      const { attempt } = currentTask();
      attempts.push(attempt);
      await currentEntityManager().save(Effect, { label: `import:${batch}` });
      if (attempt === 1) throw new Error('upstream timed out');
    }
    const registry = new TaskRegistry().add('orders.import', importOrders, {
      attempts: 2,
      backoff: { type: 'fixed', delay: 10 },
    });
    const transport = broker.amqp();
    const store = sqlResultStore(dataSource);
    const queueName = broker.queue(`${kind}-rollback`);
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger }).use(
      taskTransaction(dataSource, { logger: silentLogger }),
    );
    await worker.start();
    const handle = await queue.submit(importOrders, 'b1');
    await handle.result({ timeout: 10_000 });
    const writes = await dataSource.manager.countBy(Effect, { label: 'import:b1' });
    console.log(`[${kind}] throwing attempt: attempts=${JSON.stringify(attempts)} database writes=${writes}`);
    expect(attempts).toEqual([1, 2]);
    expect(writes).toBe(1);
    await worker.stop();
    await queue.close();
  });

  it('tasks submitted by a task go through its outbox: published iff the task commits', async () => {
    const followUps: string[] = [];
    async function sendReceipt(order: string) {
      followUps.push(order);
    }
    async function placeOrder(order: string, fail: boolean) {
      await currentEntityManager().save(Effect, { label: `order:${order}` });
      await queue.submit(sendReceipt, order);
      if (fail) throw new Error('card declined');
    }
    const registry = new TaskRegistry().add('orders.place', placeOrder).add('orders.sendReceipt', sendReceipt);
    const transport = broker.amqp();
    const store = sqlResultStore(dataSource);
    const queueName = broker.queue(`${kind}-chain`);
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger }).use(
      taskTransaction(dataSource, { queue, logger: silentLogger }),
    );
    await worker.start();
    const ok = await transactional(dataSource, queue, () => queue.submit(placeOrder, 'o-1', false));
    const bad = await transactional(dataSource, queue, () => queue.submit(placeOrder, 'o-2', true));
    await ok.result({ timeout: 10_000 });
    await waitFor(async () => (await queue.status(bad.id))?.state === 'dead', 'the failing order to be dead-lettered');
    await waitFor(() => followUps.length === 1, 'the receipt');
    await sleep(300);
    const orders = (await dataSource.manager.find(Effect)).map((e) => e.label).filter((l) => l.startsWith('order:'));
    const outbox = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
    console.log(
      `[${kind}] chained submits: receipts=${JSON.stringify(followUps)} orders written=${JSON.stringify(orders)} outbox rows left=${outbox}`,
    );
    expect(followUps).toEqual(['o-1']);
    expect(orders).toEqual(['order:o-1']);
    expect(outbox).toBe(0);
    await worker.stop();
    await queue.close();
  });

  it('a timed-out attempt rolls back (on PostgreSQL at once, freeing its row locks), even though its code goes on', async () => {
    const seed = await dataSource.manager.save(Effect, { label: `lock-${kind}` });
    let finished = false;
    async function slowUpdate(id: number) {
      const manager = currentEntityManager();
      await manager.update(Effect, { id }, { label: `changed-${kind}` }); // holds the row lock
      await manager.save(Effect, { label: `slow-${kind}` });
      await sleep(1_500); // ignores its abort signal
      finished = true;
    }
    const registry = new TaskRegistry().add('slow.update', slowUpdate, { timeout: 300, attempts: 1 });
    const transport = broker.amqp();
    const queueName = broker.queue(`${kind}-timeout`);
    const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, queues: [queueName], logger: silentLogger }).use(
      taskTransaction(dataSource, { logger: silentLogger }),
    );
    let dead = 0;
    worker.on('dead', () => dead++);
    await worker.start();
    await queue.submit(slowUpdate, seed.id);
    await waitFor(() => dead === 1, 'the timed-out task to be dead-lettered');
    let lockFreedAfter = -1;
    if (kind === 'postgres') {
      // The abandoned code still sleeps; its transaction must already be gone.
      const started = Date.now();
      await dataSource.manager.update(Effect, { id: seed.id }, { label: `lock-${kind}` });
      lockFreedAfter = Date.now() - started;
      expect(finished).toBe(false);
      expect(lockFreedAfter).toBeLessThan(1_000);
    }
    await waitFor(() => finished, 'the abandoned code to finish');
    await sleep(200);
    const labels = (await dataSource.manager.find(Effect)).map((e) => e.label);
    console.log(
      `[${kind}] timed-out attempt: dead letters=${dead} ${kind === 'postgres' ? `row lock free ${lockFreedAfter} ms after the dead letter, while the code still ran` : 'rolled back once the code finished'}, writes kept=${JSON.stringify(labels.filter((l) => l.includes(kind)))}`,
    );
    expect(labels).toContain(`lock-${kind}`);
    expect(labels).not.toContain(`changed-${kind}`);
    expect(labels).not.toContain(`slow-${kind}`);
    await worker.stop();
    await queue.close();
  });
});
