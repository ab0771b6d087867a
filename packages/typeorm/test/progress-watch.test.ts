import {
  createQueue,
  createWorker,
  currentTask,
  memory,
  memoryResultStore,
  type ProgressEvent,
  type ResultStore,
  silentLogger,
  TaskRegistry,
  type TaskStatus,
  type Transport,
} from '@taskq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep } from '../../../test-support/wait.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sqlResultStore } from '../src/index.js';
import { TestDatabase } from './support/db.js';

const broker = testBroker('tqprog');
afterAll(() => broker.cleanup());

/** Ten steps of progress, each long enough to be written (the store is written at most every 200 ms). */
async function tenSteps(label: string): Promise<string> {
  for (let step = 1; step <= 10; step++) {
    await sleep(250);
    currentTask().progress(step * 10);
  }
  return label;
}

/** A tight loop of 5,000 reports, then an object as the last one. */
async function tightLoop(): Promise<number> {
  for (let i = 0; i < 5000; i++) currentTask().progress(i / 50);
  currentTask().progress({ done: 5000, of: 5000 });
  return 5000;
}

const registry = new TaskRegistry().add('progress.tenSteps', tenSteps).add('progress.tightLoop', tightLoop);

interface Setup {
  /** The worker side's transport and store. */
  transport: () => Transport;
  workerStore: ResultStore;
  /** The web side's store: another DataSource (its own pool and listening connection) for SQL. */
  webStore: ResultStore;
  queueName: string;
  cleanup: () => Promise<void>;
}

const setups: Record<string, () => Promise<Setup>> = {
  'memory transport, memory store': async () => {
    const transport = memory();
    const store = memoryResultStore();
    return {
      transport: () => transport,
      workerStore: store,
      webStore: store,
      queueName: 'default',
      cleanup: async () => {},
    };
  },
  'RabbitMQ, PostgreSQL (worker and web on separate DataSources)': async () => {
    const db = await TestDatabase.create('postgres');
    const workerStore = sqlResultStore(await db.dataSource());
    const webStore = sqlResultStore(await db.dataSource([], { synchronize: false }));
    return {
      transport: () => broker.amqp({ logger: silentLogger }),
      workerStore,
      webStore,
      queueName: broker.queue('progress'),
      cleanup: async () => {
        await workerStore.close();
        await webStore.close();
        await db.cleanup();
      },
    };
  },
  'RabbitMQ, SQLite (worker and web in one process on one store: its own writes are pushed)': async () => {
    const db = await TestDatabase.create('sqlite');
    const store = sqlResultStore(await db.dataSource());
    return {
      transport: () => broker.amqp({ logger: silentLogger }),
      workerStore: store,
      webStore: store,
      queueName: broker.queue('progress'),
      cleanup: async () => {
        await store.close();
        await db.cleanup();
      },
    };
  },
};

describe.each(Object.keys(setups))('progress and queue.watch() on %s', (label) => {
  it('watch() yields the ten progress steps in order, then succeeded with the last value kept', async () => {
    const setup = await setups[label]();
    const transport = setup.transport();
    const worker = createWorker({
      registry,
      transport,
      store: setup.workerStore,
      queues: [setup.queueName],
      logger: silentLogger,
    });
    const events: ProgressEvent[] = [];
    worker.on('progress', (event) => events.push(event));
    const queue = createQueue({
      registry,
      transport: setup.transport(),
      store: setup.webStore,
      defaults: { queue: setup.queueName },
    });
    try {
      await worker.start();
      const handle = await queue.submit(tenSteps, 'ok');
      const snapshots: TaskStatus[] = [];
      for await (const status of queue.watch(handle.id)) snapshots.push(status);
      // The last step shows twice: while active, then kept on the succeeded snapshot.
      const progress = snapshots.map((s) => s.progress).filter((p, i, all) => p !== undefined && p !== all[i - 1]);
      console.log(
        `[${label}] ${snapshots.length} snapshots:`,
        snapshots.map((s) => `${s.state}:${s.progress ?? '-'}`),
      );
      expect(progress).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
      const last = snapshots.at(-1);
      expect(last).toMatchObject({ state: 'succeeded', progress: 100, result: 'ok' });
      expect(snapshots.filter((s) => s.state === 'succeeded')).toHaveLength(1);
      expect(await queue.status(handle.id)).toMatchObject({ state: 'succeeded', progress: 100 });
      expect(events.map((e) => [e.id, e.progress])).toEqual(
        [10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((p) => [handle.id, p]),
      );
    } finally {
      await worker.stop();
      await queue.close();
      await setup.cleanup();
    }
  });

  it('a tight loop of 5,000 reports writes the store a few times, every one is an event, and the last value is kept', async () => {
    const setup = await setups[label]();
    let writes = 0;
    const counted = setup.workerStore;
    const write = counted.progress?.bind(counted);
    counted.progress = (id, value, at) => {
      writes++;
      return write?.(id, value, at) ?? Promise.resolve();
    };
    const worker = createWorker({
      registry,
      transport: setup.transport(),
      store: counted,
      queues: [setup.queueName],
      logger: silentLogger,
    });
    let events = 0;
    worker.on('progress', () => events++);
    const queue = createQueue({
      registry,
      transport: setup.transport(),
      store: setup.webStore,
      defaults: { queue: setup.queueName },
    });
    try {
      await worker.start();
      const handle = await queue.submit(tightLoop);
      expect(await handle.result({ timeout: 20_000 })).toBe(5000);
      console.log(`[${label}] 5001 progress reports → ${writes} store writes`);
      expect(events).toBe(5001);
      expect(writes).toBeGreaterThanOrEqual(1);
      expect(writes).toBeLessThanOrEqual(3);
      expect(await queue.status(handle.id)).toMatchObject({
        state: 'succeeded',
        progress: { done: 5000, of: 5000 },
      });
    } finally {
      await worker.stop();
      await queue.close();
      await setup.cleanup();
    }
  });
});

describe('queue.watch() on SQLite across DataSources (no notifications: the adaptive check of the row)', () => {
  it('sees the progress rise and ends with succeeded', async () => {
    const db = await TestDatabase.create('sqlite');
    const workerStore = sqlResultStore(await db.dataSource());
    const webStore = sqlResultStore(await db.dataSource([], { synchronize: false }));
    const queueName = broker.queue('progress');
    const worker = createWorker({
      registry,
      transport: broker.amqp({ logger: silentLogger }),
      store: workerStore,
      queues: [queueName],
      logger: silentLogger,
    });
    const queue = createQueue({
      registry,
      transport: broker.amqp({ logger: silentLogger }),
      store: webStore,
      defaults: { queue: queueName },
    });
    try {
      await worker.start();
      const handle = await queue.submit(tenSteps, 'polled');
      const snapshots: TaskStatus[] = [];
      for await (const status of queue.watch(handle.id)) snapshots.push(status);
      const progress = snapshots.map((s) => s.progress as number | undefined).filter((p) => p !== undefined);
      console.log(
        '[sqlite, polled] snapshots:',
        snapshots.map((s) => `${s.state}:${s.progress ?? '-'}`),
      );
      // A check every 100 ms to 1 s may miss a step, never reorders them.
      expect(progress.length).toBeGreaterThanOrEqual(3);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(snapshots.at(-1)).toMatchObject({ state: 'succeeded', progress: 100, result: 'polled' });
    } finally {
      await worker.stop();
      await queue.close();
      await workerStore.close();
      await webStore.close();
      await db.cleanup();
    }
  });
});

describe('currentTask().progress() refuses what is not a percentage or a JSON object', () => {
  it('names the option', async () => {
    const transport = memory();
    const store = memoryResultStore();
    const bad = async (value: unknown): Promise<string> => {
      try {
        currentTask().progress(value as number);
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    };
    const reg = new TaskRegistry().add('progress.bad', bad);
    const worker = createWorker({ registry: reg, transport, store, logger: silentLogger });
    const queue = createQueue({ registry: reg, transport, store });
    try {
      await worker.start();
      for (const value of [101, -1, Number.NaN, 'half', [1, 2]]) {
        const handle = await queue.submit(bad, value);
        expect(await handle.result({ timeout: 5000 })).toMatch(/progress/);
      }
    } finally {
      await worker.stop();
      await queue.close();
    }
  });
});
