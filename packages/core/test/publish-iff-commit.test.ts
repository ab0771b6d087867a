import { describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  memory,
  memoryResultStore,
  type TaskState,
  TaskRegistry,
  type Transport,
} from '../src/index.js';
import { deleteQueues, queueDepth, testAmqp, uniqueQueue } from './support/rabbit.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const transports: Array<[string, () => Transport, (queue: string) => Promise<number>]> = [
  ['memory', () => memory(), async () => 0],
  ['amqp', () => testAmqp(), (queue) => queueDepth(queue)],
];

describe.each(transports)('unit of work on %s', (kind, makeTransport, depth) => {
  it('submit then throw inside the unit of work: never published, never run, no status row', async () => {
    const runs: string[] = [];
    async function sendWelcomeMail(user: string) {
      runs.push(user);
    }
    const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
    const transport = makeTransport();
    const store = memoryResultStore();
    const queueName = uniqueQueue('rollback');
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    let id = '';
    await expect(
      queue.unitOfWork(async () => {
        const handle = await queue.submit(sendWelcomeMail, 'ann');
        id = handle.id;
        throw new Error('usr is not defined');
      }),
    ).rejects.toThrow('usr is not defined');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await queue.status(id)).toBeNull();
    if (kind === 'amqp') expect(await depth(queueName)).toBe(0);
    const worker = createWorker({ registry, transport, store, queues: [queueName] });
    await worker.start();
    await sleep(300);
    expect(runs).toEqual([]);
    await worker.stop();
    await queue.close();
    if (kind === 'amqp') await deleteQueues([queueName]);
  });

  it('submit then commit: id known before commit, status goes queued → active → succeeded, runs exactly once', async () => {
    const runs: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function report(n: number) {
      runs.push(`report ${n}`);
      await gate;
      return { rows: n * 2, at: new Date(0) };
    }
    const registry = new TaskRegistry().add('reports.report', report);
    const transport = makeTransport();
    const store = memoryResultStore();
    const queueName = uniqueQueue('commit');
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName] });
    await worker.start();
    const states: Array<TaskState | 'unknown'> = [];
    const handle = await queue.unitOfWork(async () => {
      const h = await queue.submit(report, 21);
      expect(await queue.status(h.id)).toBeNull(); // not published yet
      return h;
    });
    // From here on the id is never unknown.
    const watch = (async () => {
      for (let i = 0; i < 400; i++) {
        const status = await queue.status(handle.id);
        const state = status?.state ?? 'unknown';
        if (states.at(-1) !== state) states.push(state);
        if (state === 'succeeded') return;
        await sleep(5);
      }
    })();
    await waitFor(() => runs.length === 1, 'the task to start');
    await sleep(50);
    release();
    await watch;
    const result = await handle.result({ timeout: 5_000 });
    expect(result).toEqual({ rows: 42, at: new Date(0) });
    expect(states[0]).not.toBe('unknown');
    expect(states.filter((s) => s !== 'queued')).toEqual(['active', 'succeeded']);
    expect(runs).toEqual(['report 21']);
    const status = await queue.status(handle.id);
    expect(status).toMatchObject({ id: handle.id, name: 'reports.report', state: 'succeeded', attempts: 1 });
    expect(status?.enqueuedAt).toBeInstanceOf(Date);
    expect(status?.startedAt).toBeInstanceOf(Date);
    expect(status?.finishedAt).toBeInstanceOf(Date);
    await worker.stop();
    await queue.close();
    if (kind === 'amqp') await deleteQueues([queueName]);
  });

  it('publishes committed tasks in submit order and joins nested scopes', async () => {
    const order: number[] = [];
    async function step(n: number) {
      order.push(n);
    }
    const registry = new TaskRegistry().add('step', step);
    const transport = makeTransport();
    const queueName = uniqueQueue('order');
    const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, queues: [queueName], concurrency: 1 });
    await queue.unitOfWork(async () => {
      await queue.submit(step, 1);
      await queue.unitOfWork(async () => {
        await queue.submit(step, 2);
      });
      await queue.submit(step, 3);
    });
    await worker.start();
    await waitFor(() => order.length === 3, 'three tasks');
    expect(order).toEqual([1, 2, 3]);
    await worker.stop();
    await queue.close();
    if (kind === 'amqp') await deleteQueues([queueName]);
  });

  it('two submits with the same key give one task and one run', async () => {
    let runs = 0;
    async function rebuildIndex(_name: string) {
      runs++;
      await sleep(100);
    }
    const registry = new TaskRegistry().add('search.rebuildIndex', rebuildIndex);
    const transport = makeTransport();
    const store = memoryResultStore();
    const queueName = uniqueQueue('key');
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const first = await queue.with({ key: 'index:products' }).submit(rebuildIndex, 'products');
    const second = await queue.with({ key: 'index:products' }).submit(rebuildIndex, 'products');
    expect(second.id).toBe(first.id);
    const worker = createWorker({ registry, transport, store, queues: [queueName] });
    await worker.start();
    await first.result({ timeout: 10_000 });
    await sleep(200);
    expect(runs).toBe(1);
    // Once finished, the key is free again.
    const third = await queue.with({ key: 'index:products' }).submit(rebuildIndex, 'products');
    expect(third.id).not.toBe(first.id);
    await third.result({ timeout: 10_000 });
    expect(runs).toBe(2);
    await worker.stop();
    await queue.close();
    if (kind === 'amqp') await deleteQueues([queueName]);
  });

  it('a redelivered message whose id already succeeded is acked without running again', async () => {
    let runs = 0;
    async function charge(_cents: number) {
      runs++;
    }
    const registry = new TaskRegistry().add('billing.charge', charge);
    const transport = makeTransport();
    const store = memoryResultStore();
    const queueName = uniqueQueue('redeliver');
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName] });
    await worker.start();
    const prepared: Array<{
      id: string;
      body: Buffer;
      headers: Record<string, string | number | boolean | undefined>;
    }> = [];
    // Capture the exact message, as a crash between the run and the ack would make the broker deliver it again.
    const original = transport.publish.bind(transport);
    transport.publish = async (message) => {
      prepared.push({ id: message.id, body: message.body, headers: { ...message.headers } });
      return original(message);
    };
    const handle = await queue.submit(charge, 500);
    await handle.result({ timeout: 10_000 });
    await original({ id: handle.id, queue: queueName, body: prepared[0].body, headers: prepared[0].headers });
    await sleep(400);
    expect(runs).toBe(1);
    expect((await queue.status(handle.id))?.state).toBe('succeeded');
    await worker.stop();
    await queue.close();
    if (kind === 'amqp') await deleteQueues([queueName]);
  });
});
