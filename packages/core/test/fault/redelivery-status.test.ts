import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, memoryResultStore, silentLogger } from '../../src/index.js';
import { serveResultStore } from '../fixtures/fault/ipc-result-store.js';
import { registry, work } from '../fixtures/fault/tasks.js';
import { eventually, waitFor } from '../../../../test-support/wait.js';
import { RABBIT_URL, testBroker } from '../support/rabbit.js';
import { Child } from './children.js';

// A worker SIGKILLed in the middle of a task: the broker redelivers the message, and the
// result store must show the rerun as a start of its own, not as the run that died.
describe('fault: the status of a task whose worker was SIGKILLed', () => {
  let broker = testBroker();
  const children: Child[] = [];
  const stops: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    for (const stop of stops.splice(0).reverse()) await stop();
    await broker.cleanup();
    broker = testBroker();
  });

  it('memory store: the redelivered run counts as a second delivery with its own startedAt', async () => {
    const store = memoryResultStore();
    const queueName = broker.queue('redelivery');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName }, store });
    stops.push(() => queue.close());
    const child = new Child(
      'worker-child.ts',
      {
        BROKER_URL: RABBIT_URL,
        PREFIX: broker.prefix,
        QUEUE: queueName,
        CONCURRENCY: '1',
        WORK_MS: '120000',
        STORE: 'ipc',
      },
      [],
      serveResultStore(store),
    );
    children.push(child);
    await child.waitFor((c) => c.of('ready').length === 1, 'the worker child to start');

    const handle = await queue.submit(work, 7);
    await child.waitFor((c) => c.of('active').length === 1, 'the task to start in the child');
    await eventually(async () => (await queue.status(handle.id))?.state === 'active', 'the start recorded');
    const first = await queue.status(handle.id);
    child.kill('SIGKILL');
    expect(await child.exited).toMatchObject({ signal: 'SIGKILL' });
    const killedAt = Date.now();

    const worker = createWorker({
      registry,
      transport: broker.amqp(),
      queues: [queueName],
      logger: silentLogger,
      store,
    });
    const completed: string[] = [];
    const redelivered: boolean[] = [];
    worker.use(async (ctx, next) => {
      redelivered.push(ctx.redelivered);
      await next();
    });
    worker.on('completed', (event) => completed.push(event.id));
    stops.push(() => worker.stop({ timeout: 5_000 }));
    await worker.start();
    await waitFor(() => completed.includes(handle.id), 'the redelivered task to complete');
    const last = await queue.status(handle.id);
    console.log(
      `[worker SIGKILL, status] first: state=${first?.state} attempts=${first?.attempts} deliveries=${first?.deliveries} startedAt=${first?.startedAt?.toISOString()}; ` +
        `after the rerun: state=${last?.state} attempts=${last?.attempts} deliveries=${last?.deliveries} startedAt=${last?.startedAt?.toISOString()} redelivered=${redelivered.join(',')}`,
    );
    expect(first).toMatchObject({ state: 'active', attempts: 1, deliveries: 1 });
    expect(redelivered).toEqual([true]);
    expect(last).toMatchObject({ state: 'succeeded', attempts: 1, deliveries: 2, result: 7 });
    expect(last?.startedAt?.getTime()).toBeGreaterThanOrEqual(killedAt);
    expect(last?.startedAt?.getTime()).toBeGreaterThan(first?.startedAt?.getTime() ?? Number.POSITIVE_INFINITY);
    // The history keeps both starts: the killed one with no outcome (lost), then the rerun that succeeded.
    console.log(
      '[worker SIGKILL, history]',
      last?.history?.map((a) => `${a.attempt}:${a.outcome}:pid ${a.worker?.pid}`),
    );
    expect(last?.history?.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'lost'],
      [1, 'succeeded'],
    ]);
    expect(last?.history?.[0].worker?.pid).toBe(child.of('ready')[0].pid);
    expect(last?.history?.[0].finishedAt).toBeUndefined();
  });
});
