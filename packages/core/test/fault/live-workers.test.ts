import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, memoryResultStore, silentLogger, type Worker } from '../../src/index.js';
import { serveResultStore } from '../fixtures/fault/ipc-result-store.js';
import { hold, registry, work } from '../fixtures/fault/tasks.js';
import { RABBIT_URL, testBroker } from '../support/rabbit.js';
import { Child } from './children.js';
import { eventually } from '../../../../test-support/wait.js';

// Real RabbitMQ; worker processes are SIGKILLed, so this lives with the fault tests.
describe('fault: live workers', () => {
  const broker = testBroker('tqlive');
  const children: Child[] = [];
  const workers: Worker[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 5_000 });
    await broker.cleanup();
  });

  it('lists every worker of the prefix with its heartbeat; a SIGKILLed one is listed no more', async () => {
    const name = broker.queue('live');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: name } });
    const spawn = (concurrency: string): Child => {
      const child = new Child('worker-child.ts', {
        BROKER_URL: RABBIT_URL,
        PREFIX: broker.prefix,
        QUEUE: name,
        CONCURRENCY: concurrency,
        HEARTBEAT_MS: '500',
      });
      children.push(child);
      return child;
    };
    const [busy, idle] = [spawn('1'), spawn('3')];
    const local = createWorker({
      registry,
      transport: broker.amqp(),
      queues: [name],
      concurrency: 1,
      logger: silentLogger,
    });
    workers.push(local);
    await busy.waitFor((c) => c.of('ready').length === 1, 'the first child');
    await idle.waitFor((c) => c.of('ready').length === 1, 'the second child');
    await local.start();
    // The in-process worker and the busy child each take one; the idle child (concurrency 3) may get none.
    await queue.submit(hold);
    await eventually(
      () => local.active + busy.of('active').length + idle.of('active').length === 1,
      'the held task to start',
    );

    const before = await queue.workers();
    expect(before.map((w) => w.pid).sort()).toEqual([busy.pid, idle.pid, process.pid].sort());
    const child = before.find((w) => w.pid === idle.pid);
    expect(child).toMatchObject({ queues: [name], concurrency: 3, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(child?.intervalMs).toBe(500);
    expect(child?.startedAt).toBeInstanceOf(Date);
    expect(before.reduce((sum, w) => sum + w.running, 0)).toBe(1);

    idle.kill('SIGKILL');
    await idle.exited;
    const after = await queue.workers();
    expect(after.map((w) => w.pid).sort()).toEqual([busy.pid, process.pid].sort());
    await queue.close();
  });

  it('a worker SIGKILLed mid-task: its task shows lost within two heartbeats, then the redelivered run as a new start', async () => {
    const store = memoryResultStore();
    const name = broker.queue('lost');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: name }, store });
    const child = new Child(
      'worker-child.ts',
      {
        BROKER_URL: RABBIT_URL,
        PREFIX: broker.prefix,
        QUEUE: name,
        WORK_MS: '60000',
        HEARTBEAT_MS: '500',
        STORE: 'ipc',
      },
      [],
      serveResultStore(store),
    );
    children.push(child);
    await child.waitFor((c) => c.of('ready').length === 1, 'the worker child');
    const handle = await queue.submit(work, 5);
    await eventually(async () => (await queue.status(handle.id))?.state === 'active', 'the start in the child');
    const first = await queue.status(handle.id);
    expect(first).toMatchObject({ state: 'active', lost: false, deliveries: 1 });

    child.kill('SIGKILL');
    await child.exited;
    const killedAt = Date.now();
    await eventually(async () => (await queue.status(handle.id))?.lost === true, 'the task shown lost', 3_000);
    // Two 500 ms intervals, and the poll's own step.
    expect(Date.now() - killedAt).toBeLessThan(1_500);
    expect(await queue.status(handle.id)).toMatchObject({ state: 'active', deliveries: 1 });

    const rescue = createWorker({ registry, transport: broker.amqp(), queues: [name], store, logger: silentLogger });
    workers.push(rescue);
    await rescue.start();
    expect(await handle.result({ timeout: 10_000 })).toBe(5);
    const rerun = await queue.status(handle.id);
    expect(rerun).toMatchObject({ state: 'succeeded', deliveries: 2 });
    expect(rerun?.lost).toBeUndefined();
    expect(rerun?.startedAt?.getTime()).toBeGreaterThan(first?.startedAt?.getTime() ?? Infinity);
    expect(rerun?.workerId).not.toBe(first?.workerId);
    await queue.close();
  });
});
