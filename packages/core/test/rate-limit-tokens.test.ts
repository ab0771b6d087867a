import { afterEach, describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  currentTask,
  RateLimitedError,
  silentLogger,
  TaskRegistry,
  type TaskQueue,
  type Worker,
} from '../src/index.js';
import { eventually, sleep } from '../../../test-support/wait.js';
import { topologyOf, withChannel } from '../../../test-support/rabbit.js';
import { type KeyedRun, maxInWindow, maxOverlapPerKey } from './support/limits.js';
import { testBroker } from './support/rabbit.js';

const starts: number[] = [];
async function call(_n: number): Promise<void> {
  starts.push(Date.now());
}

const attempts: number[] = [];
const fast: number[] = [];
let refusals = 0;
async function limited(): Promise<void> {
  starts.push(Date.now());
  attempts.push(currentTask().attempt);
  if (refusals > 0) {
    refusals--;
    throw new RateLimitedError({ retryAfter: '1s' });
  }
}
async function quick(): Promise<void> {
  fast.push(Date.now());
}

const runs: KeyedRun[] = [];
let release: (() => void) | undefined;
async function blocking(key: string, seq: number): Promise<void> {
  const start = Date.now();
  if (seq === 0) await new Promise<void>((resolve) => (release = resolve));
  runs.push({ key, seq, start, end: Date.now() });
}

describe('rate-limit tokens on RabbitMQ: generations, duplicates, holds, waiting', () => {
  const broker = testBroker('tqtokens');
  const workers: Worker[] = [];
  const queues: TaskQueue[] = [];

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 2_000 });
    for (const queue of queues.splice(0)) await queue.close();
    await broker.cleanup();
    starts.length = 0;
    attempts.length = 0;
    fast.length = 0;
    runs.length = 0;
    release = undefined;
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
    // Two copies of slot 0 of the current generation (read from the leader's seed record), as a crash between a
    // token's re-publish and its ack leaves.
    await withChannel(async (channel) => {
      const topology = topologyOf(broker.prefix);
      const record = await channel.get(topology.leadership(topology.rateGroup('task.api.call')).state);
      if (record === false) throw new Error('no seed record');
      channel.nack(record, false, true);
      const { gen } = JSON.parse(record.content.toString('utf8')) as { gen: number };
      const token = Buffer.from(JSON.stringify({ taskq: 'rate-token', v: 1, gen, slot: 0, perMs: 1_000 }));
      for (let i = 0; i < 2; i++) channel.sendToQueue(topology.rateQueue('task.api.call'), token);
    });
    const from = starts.length;
    await run(queue, 12);
    expect(maxInWindow(starts.slice(from), 1_000)).toBeLessThanOrEqual(3);
  }, 25_000);

  it('waiting for a queue limit blocks neither the worker’s other queues nor uses attempts', async () => {
    const slow = broker.queue('slow');
    const quickQueue = broker.queue('fast');
    broker.adoptRateLimit(`queue.${slow}`);
    const registry = new TaskRegistry()
      .add('limited', limited, { queue: slow, attempts: 1 })
      .add('quick', quick, { queue: quickQueue });
    const worker = createWorker({
      registry,
      transport: broker.amqp(),
      queues: [slow, quickQueue],
      concurrency: 5,
      logger: silentLogger,
      rateLimits: { [slow]: { max: 2, per: '10s' } },
    });
    await worker.start();
    workers.push(worker);
    const queue = createQueue({ registry, transport: broker.amqp() });
    queues.push(queue);
    for (let i = 0; i < 6; i++) await queue.submit(limited);
    await eventually(() => starts.length === 2, 'two limited starts', 10_000);
    for (let i = 0; i < 20; i++) await queue.submit(quick);
    await eventually(() => fast.length === 20, 'the other queue’s tasks', 10_000);
    expect(starts).toHaveLength(2);
    expect(attempts).toEqual([1, 1]);
  }, 30_000);

  it('"slow down" from one worker holds the limit on every worker, and the task runs again as the same attempt', async () => {
    refusals = 1;
    const name = 'api.remote';
    broker.adoptRateLimit(`task.${name}`);
    const registry = new TaskRegistry().add(name, limited, { rateLimit: { max: 50, per: '1s' }, attempts: 1 });
    for (let i = 0; i < 2; i++) {
      const worker = createWorker({ registry, transport: broker.amqp(), logger: silentLogger });
      await worker.start();
      workers.push(worker);
    }
    const queue = createQueue({ registry, transport: broker.amqp() });
    queues.push(queue);
    await queue.submit(limited);
    await eventually(() => starts.length === 1, 'the refused start', 10_000);
    const refusedAt = starts[0];
    await sleep(200);
    for (let i = 0; i < 6; i++) await queue.submit(limited);
    await eventually(() => starts.length === 8, 'every task ran', 15_000);
    // The refused one again plus six others, none before the hold of 1 s ended (on either worker).
    expect(Math.min(...starts.slice(1)) - refusedAt).toBeGreaterThanOrEqual(990);
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect(await broker.drainDead()).toHaveLength(0);
  }, 30_000);

  it('a stopping worker keeps its key partition until the running task of the key ends', async () => {
    const keyedQueue = broker.queue('keyed');
    broker.adoptPartitions(keyedQueue, 1);
    const registry = new TaskRegistry().add('tenant.block', blocking, {
      queue: keyedQueue,
      concurrencyKey: ([k]) => k,
      partitions: 1,
    });
    for (let i = 0; i < 2; i++) {
      const worker = createWorker({ registry, transport: broker.amqp(), queues: [keyedQueue], logger: silentLogger });
      await worker.start();
      workers.push(worker);
    }
    const queue = createQueue({ registry, transport: broker.amqp() });
    queues.push(queue);
    for (let seq = 0; seq < 4; seq++) await queue.submit(blocking, 'a', seq);
    await eventually(() => release !== undefined, 'the first task running', 10_000);
    // The first worker (the partition's active consumer) stops while the key's first task runs.
    const stopping = workers[0].stop({ timeout: 5_000 });
    await sleep(300);
    expect(runs).toHaveLength(0);
    (release as () => void)();
    await stopping;
    await eventually(() => runs.length === 4, 'all four runs', 10_000);
    expect(maxOverlapPerKey(runs)).toBe(1);
    expect(runs.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  }, 20_000);
});
