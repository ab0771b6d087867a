import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, silentLogger, TaskRegistry, type TaskQueue, type Worker } from '../src/index.js';
import { eventually } from '../../../test-support/wait.js';
import { topologyOf, withChannel } from '../../../test-support/rabbit.js';
import { maxInWindow } from './support/limits.js';
import { testBroker } from './support/rabbit.js';

const starts: number[] = [];
async function call(_n: number): Promise<void> {
  starts.push(Date.now());
}

describe('rate-limit tokens on RabbitMQ: generations and duplicates', () => {
  const broker = testBroker('tqtokens');
  const workers: Worker[] = [];
  const queues: TaskQueue[] = [];

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 2_000 });
    for (const queue of queues.splice(0)) await queue.close();
    await broker.cleanup();
    starts.length = 0;
  });

  /** Starts a worker (one, so that it sees every token) and a queue. */
  async function start(registry: TaskRegistry): Promise<TaskQueue> {
    const worker = createWorker({ registry, transport: broker.amqp(), logger: silentLogger });
    await worker.start();
    workers.push(worker);
    const queue = createQueue({ registry, transport: broker.amqp() });
    queues.push(queue);
    return queue;
  }

  async function run(queue: TaskQueue, count: number): Promise<void> {
    const before = starts.length;
    await queue.submitMany(
      call,
      Array.from({ length: count }, (_, i) => [i] as [number]),
    );
    await eventually(() => starts.length === before + count, `${count} starts`, 15_000);
  }

  it('a changed limit is seeded anew and the old generation’s tokens are dropped', async () => {
    broker.adoptRateLimit('task.api.call');
    await run(await start(new TaskRegistry().add('api.call', call, { rateLimit: { max: 3, per: '1s' } })), 3);
    await workers.splice(0)[0].stop();
    const from = starts.length;
    // A deploy raises the limit to 5: 8 tokens (3 old, 5 new) must not both circulate.
    await run(await start(new TaskRegistry().add('api.call', call, { rateLimit: { max: 5, per: '1s' } })), 20);
    expect(maxInWindow(starts.slice(from), 1_000)).toBeLessThanOrEqual(5);
    // Across the change too: the new generation starts one window after the old one's last use.
    expect(maxInWindow(starts, 1_000)).toBeLessThanOrEqual(5);
  }, 25_000);

  it('a duplicated token is dropped: still at most max starts per window', async () => {
    broker.adoptRateLimit('task.api.call');
    const registry = new TaskRegistry().add('api.call', call, { rateLimit: { max: 3, per: '1s' } });
    const queue = await start(registry);
    await run(queue, 3);
    // Two copies of slot 0 of the current generation, as a crash between a token's re-publish and its ack leaves.
    await withChannel(async (channel) => {
      const token = Buffer.from(JSON.stringify({ taskq: 'rate-token', v: 1, gen: 1, slot: 0, perMs: 1_000 }));
      for (let i = 0; i < 2; i++) channel.sendToQueue(topologyOf(broker.prefix).rateQueue('task.api.call'), token);
    });
    const from = starts.length;
    await run(queue, 12);
    expect(maxInWindow(starts.slice(from), 1_000)).toBeLessThanOrEqual(3);
  }, 25_000);
});
