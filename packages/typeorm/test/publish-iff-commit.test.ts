import { createQueue, createWorker, silentLogger, type TaskState, TaskRegistry } from '@taskq/core';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinTransaction, databaseUnitOfWork, sqlResultStore, transactional } from '../src/index.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

describe.each<DbKind>(['postgres', 'sqlite'])('published iff the transaction commits (%s)', (kind) => {
  let db: TestDatabase;
  let dataSource: DataSource;
  /** A second DataSource on the same database: reads only what was committed. */
  let outside: DataSource;

  beforeAll(async () => {
    db = await TestDatabase.create(kind);
    dataSource = await db.dataSource();
    outside = await db.dataSource([], { synchronize: false });
  });
  afterAll(() => db.cleanup());

  const outboxRows = async (): Promise<number> =>
    Number((await outside.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
  const statusRow = async (id: string): Promise<unknown[]> =>
    outside.query(`SELECT state FROM ${db.table('taskq_status')} WHERE id = ${db.param(1)}`, [id]);

  function setup(label: string) {
    const runs: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function sendWelcomeMail(user: string) {
      runs.push(user);
      await gate;
      return `sent to ${user}`;
    }
    const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
    const transport = broker.amqp();
    const store = sqlResultStore(dataSource);
    const queueName = broker.queue(`${kind}-${label}`);
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger });
    return { runs, release, sendWelcomeMail, queue, queueName, worker, store };
  }

  it('submit then throw inside transactional(): never published, never run, no status row, no outbox row', async () => {
    const { runs, release, sendWelcomeMail, queue, queueName, worker } = setup('rollback');
    release();
    let id = '';
    await expect(
      transactional(dataSource, queue, async () => {
        const handle = await queue.submit(sendWelcomeMail, 'ann');
        id = handle.id;
        expect(await queue.status(id)).toMatchObject({ state: 'queued' }); // read through the transaction itself
        throw new Error('usr is not defined');
      }),
    ).rejects.toThrow('usr is not defined');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await queue.status(id)).toBeNull();
    expect(await statusRow(id)).toEqual([]);
    expect(await outboxRows()).toBe(0);
    expect(await broker.depth(queueName)).toBe(0);
    await worker.start();
    await sleep(300);
    console.log(
      `[${kind}] rollback: runs=${runs.length} broker depth=${await broker.depth(queueName)} outbox rows=${await outboxRows()}`,
    );
    expect(runs).toEqual([]);
    await worker.stop();
    await queue.close();
  });

  it('submit then commit: runs exactly once; the id reads queued → active → succeeded, never unknown after commit', async () => {
    const { runs, release, sendWelcomeMail, queue, worker } = setup('commit');
    const handle = await transactional(dataSource, queue, async () => {
      const h = await queue.submit(sendWelcomeMail, 'bob');
      // Not visible outside before the commit.
      expect(await statusRow(h.id)).toEqual([]);
      expect(await outboxRows()).toBe(0);
      return h;
    });
    // Committed and published at once by this process (no relay runs in this test).
    expect(await outboxRows()).toBe(0);
    const states: Array<TaskState | 'unknown'> = [];
    const watch = (async () => {
      for (let i = 0; i < 2_000; i++) {
        const state = (await queue.status(handle.id))?.state ?? 'unknown';
        if (states.at(-1) !== state) states.push(state);
        if (state === 'succeeded') return;
        await sleep(5);
      }
    })();
    await sleep(50);
    await worker.start();
    await waitFor(() => runs.length === 1, 'the task to start');
    await sleep(100);
    release();
    await watch;
    expect(await handle.result({ timeout: 10_000 })).toBe('sent to bob');
    await sleep(200);
    console.log(`[${kind}] commit: runs=${runs.length} states=${states.join(' → ')}`);
    expect(states).toEqual(['queued', 'active', 'succeeded']);
    expect(runs).toEqual(['bob']);
    await worker.stop();
    await queue.close();
  });

  it("a request transaction (the adapters' building block): rollback drops, commit publishes", async () => {
    const { runs, release, sendWelcomeMail, queue, worker } = setup('request');
    release();
    await worker.start();
    const dropped = await databaseUnitOfWork(dataSource, queue);
    const droppedHandle = await dropped.run(() => queue.submit(sendWelcomeMail, 'dropped'));
    await dropped.rollback();
    const kept = await databaseUnitOfWork(dataSource, queue);
    const keptHandle = await kept.run(() => queue.submit(sendWelcomeMail, 'kept'));
    expect(kept.uow.tasks.map((t) => t.id)).toEqual([keptHandle.id]);
    await kept.commit();
    expect(kept.state).toBe('committed');
    await keptHandle.result({ timeout: 10_000 });
    await sleep(300);
    expect(await queue.status(droppedHandle.id)).toBeNull();
    console.log(`[${kind}] request transaction: runs=${JSON.stringify(runs)}`);
    expect(runs).toEqual(['kept']);
    await worker.stop();
    await queue.close();
  });

  it('joinTransaction() in a transaction opened by dataSource.transaction(): published after its commit, dropped on its rollback', async () => {
    const { runs, release, sendWelcomeMail, queue, worker } = setup('join');
    release();
    await worker.start();
    let rolledBack = '';
    await expect(
      dataSource.transaction(async (manager) => {
        rolledBack = (await joinTransaction(manager, queue, () => queue.submit(sendWelcomeMail, 'rolled back'))).id;
        throw new Error('payment declined');
      }),
    ).rejects.toThrow('payment declined');
    const committed = await dataSource.transaction((manager) =>
      joinTransaction(manager, queue, () => queue.submit(sendWelcomeMail, 'committed')),
    );
    await committed.result({ timeout: 10_000 });
    // Published by the afterTransactionCommit subscriber; no relay runs in this test.
    expect(await outboxRows()).toBe(0);
    await sleep(300);
    expect(await queue.status(rolledBack)).toBeNull();
    console.log(`[${kind}] joinTransaction: runs=${JSON.stringify(runs)}`);
    expect(runs).toEqual(['committed']);
    await worker.stop();
    await queue.close();
  });

  it('a delay counts from the submit, not from the commit or the publish', async () => {
    const { runs, release, sendWelcomeMail, queue, worker } = setup('delay');
    release();
    await worker.start();
    let submittedAt = 0;
    const handle = await transactional(dataSource, queue, async () => {
      submittedAt = Date.now();
      const h = await queue.with({ delay: 1_500 }).submit(sendWelcomeMail, 'later');
      await sleep(1_000); // a slow transaction: the commit comes 1 s after the submit
      return h;
    });
    await waitFor(() => runs.length === 1, 'the delayed task', 10_000);
    const ranAfter = Date.now() - submittedAt;
    await handle.result({ timeout: 5_000 });
    console.log(`[${kind}] delay 1500 ms, commit after 1000 ms: ran ${ranAfter} ms after the submit`);
    expect(ranAfter).toBeGreaterThanOrEqual(1_450);
    expect(ranAfter).toBeLessThan(2_400);
    await worker.stop();
    await queue.close();
  });
});
