import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, TaskRegistry, type Worker } from '../src/index.js';
import { testBroker } from './support/rabbit.js';
import { eventually, sleep } from '../../../test-support/wait.js';

// Real RabbitMQ: three workers, each on its own connections, as three processes would be.
describe('pause and resume on RabbitMQ', () => {
  const broker = testBroker('tqpause');
  const workers: Worker[] = [];

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 5_000 });
    await broker.cleanup();
  });

  it('with three workers: nothing starts for 5 s while 100 submits succeed; a restarted worker starts paused; resume runs all 100', async () => {
    const started: number[] = [];
    async function job(n: number) {
      started.push(n);
    }
    const registry = new TaskRegistry().add('job', job);
    const name = broker.queue('paused');
    const startWorker = async (): Promise<Worker> => {
      const worker = createWorker({ registry, transport: broker.amqp(), queues: [name], concurrency: 5 });
      workers.push(worker);
      await worker.start();
      return worker;
    };
    for (let i = 0; i < 3; i++) await startWorker();
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: name } });
    const probe = await queue.submit(job, -1);
    await eventually(() => started.includes(-1), `task ${probe.id} before the pause`);

    await queue.pause(name);
    // Another process sees the pause.
    const other = createQueue({ registry, transport: broker.amqp() });
    expect(await other.isPaused(name)).toBe(true);
    await other.close();
    await sleep(2_000); // the promised propagation time
    const handles = await Promise.all(Array.from({ length: 100 }, (_, n) => queue.submit(job, n)));
    expect(handles).toHaveLength(100);
    // A worker that restarts during the pause starts paused.
    await workers[0].stop();
    await startWorker();
    await sleep(5_000);
    expect(started).toEqual([-1]);
    expect(await broker.depth(name)).toBe(100);

    await queue.resume(name);
    await eventually(() => started.length === 101, 'all 100 tasks after resume');
    expect(new Set(started).size).toBe(101);
    await queue.close();
  }, 40_000);
});
