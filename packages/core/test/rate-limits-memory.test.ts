import { afterEach, describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  currentTask,
  InvalidOptionError,
  memory,
  RateLimitedError,
  silentLogger,
  TaskRegistry,
  type Worker,
} from '../src/index.js';
import { encodeControl, parseControl } from '../src/internal/control.js';
import { eventually, sleep } from '../../../test-support/wait.js';
import { type KeyedRun, maxInWindow, maxOverlapPerKey, startOrderPerKey } from './support/limits.js';

const starts: number[] = [];
const attempts: number[] = [];
async function call(_n: number): Promise<void> {
  starts.push(Date.now());
  attempts.push(currentTask().attempt);
}

const others: number[] = [];
async function other(): Promise<void> {
  others.push(Date.now());
}

let refusals = 0;
async function flaky(): Promise<void> {
  starts.push(Date.now());
  attempts.push(currentTask().attempt);
  if (refusals > 0) {
    refusals--;
    throw new RateLimitedError({ retryAfter: 400 });
  }
}

const runs: KeyedRun[] = [];
let release: (() => void) | undefined;
async function blocking(key: string, seq: number): Promise<void> {
  const start = Date.now();
  if (seq === 0) await new Promise<void>((resolve) => (release = resolve));
  runs.push({ key, seq, start, end: Date.now() });
}
async function keyed(key: string, seq: number): Promise<void> {
  const start = Date.now();
  await sleep(5 + (seq % 3) * 5);
  runs.push({ key, seq, start, end: Date.now() });
}

describe('rate limits and per-key concurrency on the memory transport', () => {
  const workers: Worker[] = [];
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 2_000 });
    starts.length = 0;
    attempts.length = 0;
    others.length = 0;
    runs.length = 0;
  });

  async function startWorkers(
    registry: TaskRegistry,
    transport: ReturnType<typeof memory>,
    count: number,
    options: Partial<Parameters<typeof createWorker>[0]> = {},
  ) {
    for (let i = 0; i < count; i++) {
      const worker = createWorker({ registry, transport, logger: silentLogger, concurrency: 20, ...options });
      await worker.start();
      workers.push(worker);
    }
  }

  it('a task limit holds across three workers: no window of `per` with more than `max` starts', async () => {
    const registry = new TaskRegistry().add('api.call', call, { rateLimit: { max: 10, per: '200ms' } });
    const transport = memory();
    await startWorkers(registry, transport, 3);
    const queue = createQueue({ registry, transport });
    await queue.submitMany(
      call,
      Array.from({ length: 100 }, (_, i) => [i] as [number]),
    );
    await eventually(() => starts.length === 100, '100 starts', 10_000);
    expect(maxInWindow(starts, 200)).toBeLessThanOrEqual(10);
    // Waiting for a token is not an attempt: every task ran as its first attempt (attempts: 1 would dead-letter more).
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect(transport.deadLetters()).toHaveLength(0);
    await queue.close();
  });

  it('a queue limit does not block the same worker’s other queues', async () => {
    const registry = new TaskRegistry().add('limited', call, { queue: 'slow' }).add('other', other, { queue: 'fast' });
    const transport = memory();
    await startWorkers(registry, transport, 1, {
      queues: ['slow', 'fast'],
      concurrency: 5,
      rateLimits: { slow: { max: 1, per: '10s' } },
    });
    const queue = createQueue({ registry, transport });
    await queue.submitMany(
      call,
      Array.from({ length: 10 }, (_, i) => [i] as [number]),
    );
    await eventually(() => starts.length === 1, '1 starts');
    for (let i = 0; i < 20; i++) await queue.submit(other);
    await eventually(() => others.length === 20, '20 others');
    expect(starts).toHaveLength(1);
    await queue.close();
  });

  it('"slow down" holds the whole limit and retries the task without using an attempt', async () => {
    refusals = 1;
    const registry = new TaskRegistry().add('api.flaky', flaky, { rateLimit: { max: 50, per: '1s' }, attempts: 1 });
    const transport = memory();
    await startWorkers(registry, transport, 2);
    const queue = createQueue({ registry, transport });
    const first = await queue.submit(flaky);
    await eventually(() => starts.length === 1, '1 starts');
    const refusedAt = starts[0];
    await sleep(20);
    for (let i = 0; i < 5; i++) await queue.submit(flaky);
    await eventually(() => starts.length === 7, '7 starts', 5_000);
    // Nothing of the limit started while it was held, on any worker.
    expect(starts.slice(1).every((t) => t - refusedAt >= 390)).toBe(true);
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect(transport.deadLetters()).toHaveLength(0);
    expect(first.id).toBeTruthy();
    await queue.close();
  });

  it.each([1, 2])('at most maxPerKey = %i per key across three workers, in submit order per key', async (maxPerKey) => {
    const registry = new TaskRegistry().add('tenant.sync', keyed, {
      concurrencyKey: ([key]) => key,
      maxPerKey,
      partitions: 3,
    });
    const transport = memory();
    await startWorkers(registry, transport, 3);
    const queue = createQueue({ registry, transport });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const calls: [string, number][] = [];
    for (let seq = 0; seq < 12; seq++) for (const key of keys) calls.push([key, seq]);
    await queue.submitMany(keyed, calls);
    await eventually(() => runs.length === 60, '60 runs', 10_000);
    expect(maxOverlapPerKey(runs)).toBeLessThanOrEqual(maxPerKey);
    if (maxPerKey === 1) {
      for (const order of startOrderPerKey(runs).values()) expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    await queue.close();
  });

  it('a signed keyed task runs from its partition; pausing the queue pauses its partitions', async () => {
    const key = 'k'.repeat(40);
    const registry = new TaskRegistry().add('tenant.sync', keyed, { concurrencyKey: ([k]) => k, partitions: 2 });
    const transport = memory();
    await startWorkers(registry, transport, 1, { signingKeys: key });
    const queue = createQueue({ registry, transport, signingKey: key });
    await queue.pause('default');
    await sleep(20);
    await queue.submit(keyed, 'a', 0);
    await queue.submit(keyed, 'b', 0);
    await sleep(100);
    expect(runs).toHaveLength(0);
    await queue.resume('default');
    await eventually(() => runs.length === 2, 'both keyed runs');
    expect(transport.deadLetters()).toHaveLength(0);
    await queue.close();
  });

  it('a stopping worker keeps its partition until the key’s running task ends: no second task of the key starts', async () => {
    const registry = new TaskRegistry().add('tenant.block', blocking, { concurrencyKey: ([k]) => k, partitions: 1 });
    const transport = memory();
    await startWorkers(registry, transport, 2);
    const queue = createQueue({ registry, transport });
    for (let seq = 0; seq < 4; seq++) await queue.submit(blocking, 'a', seq);
    await eventually(() => release !== undefined, 'the first task running');
    const stopping = workers[0].stop({ timeout: 5_000 });
    await sleep(150);
    expect(runs).toHaveLength(0);
    (release as () => void)();
    await stopping;
    await eventually(() => runs.length === 4, 'all four runs');
    expect(maxOverlapPerKey(runs)).toBe(1);
    expect(runs.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    release = undefined;
    await queue.close();
  });

  it('reads a "slow down" control message strictly', () => {
    const hold = { kind: 'rate-hold', limit: 'task.api.call', ms: 1_500 } as const;
    expect(parseControl(encodeControl(hold))).toEqual(hold);
    const raw = (fields: object) =>
      Buffer.from(JSON.stringify({ taskq: 'control', v: 1, kind: 'rate-hold', ...fields }));
    expect(parseControl(raw({ limit: 'task.api.call', ms: -1 }))).toBeUndefined();
    expect(parseControl(raw({ limit: 'task.api.call', ms: 3_600_001 }))).toBeUndefined();
    expect(parseControl(raw({ limit: 'a b', ms: 10 }))).toBeUndefined();
    expect(parseControl(raw({ ms: 10 }))).toBeUndefined();
  });

  it('refuses bad limits and keys at the edge, naming the option', async () => {
    const bad = (options: object) => () => new TaskRegistry().add('t', call, options);
    expect(bad({ rateLimit: { max: 0, per: '1s' } })).toThrow(/tasks\["t"\]\.rateLimit\.max/);
    expect(bad({ rateLimit: { max: 5, per: '1ms' } })).toThrow(/tasks\["t"\]\.rateLimit\.per/);
    expect(bad({ maxPerKey: 2 })).toThrow(/maxPerKey.*needs a concurrencyKey/);
    expect(bad({ concurrencyKey: () => 'k', partitions: 0 })).toThrow(/partitions/);
    expect(bad({ concurrencyKey: 'k' })).toThrow(InvalidOptionError);
    const registry = new TaskRegistry().add('t', call, { concurrencyKey: () => 'k', maxPerKey: 2 });
    expect(() => registry.add('u', other, { concurrencyKey: () => 'k' })).toThrow(/maxPerKey/);
    expect(() => createWorker({ registry, transport: memory(), rateLimits: { nope: { max: 1, per: '1s' } } })).toThrow(
      /rateLimits\["nope"\]/,
    );
    const queue = createQueue({ registry, transport: memory() });
    await expect(queue.with({ queue: 'elsewhere' }).submit(call, 1)).rejects.toThrow(/option "queue"/);
    const empty = new TaskRegistry().add('t', call, { concurrencyKey: () => '' });
    await expect(createQueue({ registry: empty, transport: memory() }).submit(call, 1)).rejects.toThrow(
      /option "concurrencyKey"/,
    );
    expect(() => new RateLimitedError({ retryAfter: 'soon' })).toThrow(/retryAfter/);
  });
});
