import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, memory, memoryResultStore, silentLogger, TaskRegistry } from '../src/index.js';
import { serveResultStore } from './fixtures/fault/ipc-result-store.js';
import { hold, registry, work } from './fixtures/fault/tasks.js';
import { Child } from './fault/children.js';
import { RABBIT_URL, testBroker } from './support/rabbit.js';
import { eventually, sleep } from '../../../test-support/wait.js';

describe('cancellation on RabbitMQ', () => {
  const broker = testBroker('tqcancel');
  const children: Child[] = [];
  const stops: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    for (const stop of stops.splice(0).reverse()) await stop();
    await broker.cleanup();
  });

  it('a cancelled delayed task never runs; its status reads cancelled; cancelling it again resolves false', async () => {
    const store = memoryResultStore();
    const name = broker.queue('delayed');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: name }, store });
    const worker = createWorker({ registry, transport: broker.amqp(), queues: [name], store, logger: silentLogger });
    stops.push(
      () => queue.close(),
      () => worker.stop({ timeout: 5_000 }),
    );
    const started: string[] = [];
    const completed: string[] = [];
    worker.on('active', (e) => started.push(e.id));
    worker.on('completed', (e) => completed.push(e.id));
    await worker.start();
    const delayed = await queue.with({ delay: 1_000 }).submit(work, 1);
    expect(await delayed.cancel()).toBe(true);
    expect((await queue.status(delayed.id))?.state).toBe('cancelled');
    const after = await queue.with({ delay: 1_200 }).submit(work, 2);
    await eventually(() => completed.includes(after.id), 'the task due after the cancelled one');
    expect(started).toEqual([after.id]);
    expect(await broker.depth(name)).toBe(0);
    expect((await queue.status(delayed.id))?.state).toBe('cancelled');
    await expect(delayed.result({ timeout: 1_000 })).rejects.toMatchObject({ code: 'TASKQ_TASK_CANCELLED' });
    expect(await queue.cancel(delayed.id)).toBe(false);
    expect(await queue.cancel(after.id)).toBe(false);
  });

  it('cancels a task running in a worker child process: its signal aborts within 1 s, it is not retried nor dead-lettered', async () => {
    const store = memoryResultStore();
    const name = broker.queue('running');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: name, attempts: 3 }, store });
    stops.push(() => queue.close());
    const child = new Child(
      'worker-child.ts',
      { BROKER_URL: RABBIT_URL, PREFIX: broker.prefix, QUEUE: name, CONCURRENCY: '2', STORE: 'ipc' },
      [],
      serveResultStore(store),
    );
    children.push(child);
    await child.waitFor((c) => c.of('ready').length === 1, 'the worker child to start');
    const handle = await queue.submit(hold);
    await child.waitFor((c) => c.of('active').length === 1, 'the task to start in the child');
    await eventually(async () => (await queue.status(handle.id))?.state === 'active', 'the start recorded');

    const cancelledAt = Date.now();
    expect(await queue.cancel(handle.id)).toBe(true);
    await child.waitFor((c) => c.of('failed').length === 1, 'the cancelled run to end');
    const [aborted] = child.of('aborted');
    expect((aborted.at as number) - cancelledAt).toBeLessThan(1_000);
    expect(child.of('failed')[0]).toMatchObject({ id: handle.id, code: 'TASKQ_TASK_CANCELLED', willRetry: false });
    await sleep(1_000);
    expect(child.of('active')).toHaveLength(1);
    expect(child.of('dead')).toHaveLength(0);
    expect(await broker.drainDead()).toEqual([]);
    expect(await broker.depth(name)).toBe(0);
    expect(await store.get(handle.id)).toMatchObject({ state: 'cancelled', deliveries: 1 });
  });
});

describe('cancellation in a unit of work', () => {
  it('is undone by a rollback and done at commit', async () => {
    async function noop() {}
    const registry = new TaskRegistry().add('noop', noop);
    const store = memoryResultStore();
    const transport = memory();
    const queue = createQueue({ registry, transport, store, defaults: { queue: 'uow-cancel', delay: 60_000 } });
    const kept = await queue.submit(noop);
    const rollback = queue.unitOfWork(async () => {
      expect(await queue.cancel(kept.id)).toBe(true);
      throw new Error('roll back');
    });
    await expect(rollback).rejects.toThrow('roll back');
    expect((await queue.status(kept.id))?.state).toBe('queued');

    await queue.unitOfWork(async () => {
      expect(await queue.cancel(kept.id)).toBe(true);
      expect((await queue.status(kept.id))?.state).toBe('queued');
    });
    expect((await queue.status(kept.id))?.state).toBe('cancelled');
    await queue.close();
    await transport.close();
  });
});
