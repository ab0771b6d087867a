import { createQueue, createWorker, currentTask, silentLogger, TaskRegistry } from '@taskq/core';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentEntityManager, sqlResultStore, transactional, typeormTransaction } from '../src/index.js';
import { Effect } from './fixtures/entities.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { TestBroker } from './support/rabbit.js';
import { sleep, waitFor } from './support/wait.js';

const broker = new TestBroker();
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
    const registry = new TaskRegistry().add('orders.import', importOrders, { attempts: 2, backoff: { type: 'fixed', delay: 10 } });
    const transport = broker.amqp();
    const store = sqlResultStore(dataSource);
    const queueName = broker.queue(`${kind}-rollback`);
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger }).use(typeormTransaction(dataSource, { logger: silentLogger }));
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
    const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger }).use(typeormTransaction(dataSource, { queue, logger: silentLogger }));
    await worker.start();
    const ok = await transactional(dataSource, queue, () => queue.submit(placeOrder, 'o-1', false));
    const bad = await transactional(dataSource, queue, () => queue.submit(placeOrder, 'o-2', true));
    await ok.result({ timeout: 10_000 });
    await waitFor(async () => (await queue.status(bad.id))?.state === 'dead', 'the failing order to be dead-lettered');
    await waitFor(() => followUps.length === 1, 'the receipt');
    await sleep(300);
    const orders = (await dataSource.manager.find(Effect)).map((e) => e.label).filter((l) => l.startsWith('order:'));
    const outbox = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
    console.log(`[${kind}] chained submits: receipts=${JSON.stringify(followUps)} orders written=${JSON.stringify(orders)} outbox rows left=${outbox}`);
    expect(followUps).toEqual(['o-1']);
    expect(orders).toEqual(['order:o-1']);
    expect(outbox).toBe(0);
    await worker.stop();
    await queue.close();
  });
});
