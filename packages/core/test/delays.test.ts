import { describe, expect, it, vi } from 'vitest';
import { createQueue, createWorker, memory, TaskRegistry } from '../src/index.js';
import { DELAY_LEVELS, DELAY_TICK_MS, MAX_DELAY_MS, Topology } from '../src/transports/amqp/topology.js';
import { isolatedPerTest, transportPairs } from './support/isolated.js';
import { waitFor } from '../../../test-support/wait.js';

/** How late a delayed task may start (the issue: "within 0.5 s of due"). */
const TOLERANCE_MS = 500;
/** Delays are rounded to the AMQP topology's 10 ms tick, so a task may start a few ms before its exact due time. */
const EARLY_MS = 20;

const transports = transportPairs('delays');

for (const [kind, make] of Object.entries(transports)) {
  describe(`delays and schedules: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    async function start() {
      const started = new Map<string, number>();
      async function due(label: string) {
        started.set(label, Date.now());
      }
      const registry = new TaskRegistry().add('delays.due', due);
      const env = make(broker);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName] });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      await worker.start();
      return { queue, due, started };
    }

    it('starts 1 s, 3 s and 7 s delays within 0.5 s of due and in due order, the longest submitted first', async () => {
      const { queue, due, started } = await start();
      const dueAt = new Map<string, number>();
      // Longest first: a per-message TTL in one queue would hold the short ones behind it.
      for (const [label, delay] of [
        ['7s', 7_000],
        ['3s', '3s'],
        ['1s', 1_000],
      ] as const) {
        dueAt.set(label, Date.now() + (typeof delay === 'number' ? delay : 3_000));
        await queue.with({ delay }).submit(due, label);
      }
      await waitFor(() => started.size === 3, 'three delayed tasks', 15_000);
      const lateness = [...dueAt].map(([label, at]) => ({ label, lateMs: (started.get(label) as number) - at }));
      console.log(`[delays ${kind}] ${lateness.map((l) => `${l.label}: ${l.lateMs} ms after due`).join(', ')}`);
      for (const { lateMs } of lateness) {
        expect(lateMs).toBeGreaterThanOrEqual(-EARLY_MS);
        expect(lateMs).toBeLessThan(TOLERANCE_MS);
      }
      expect([...started.keys()]).toEqual(['1s', '3s', '7s']);
    });

    it('refuses a delay beyond the supported 31 days at submit, on both transports alike', async () => {
      const { queue, due } = await start();
      const error = await queue
        .with({ delay: '32d' })
        .submit(due, 'too late')
        .catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('TASKQ_INVALID_OPTION');
      expect((error as Error).message).toContain('about 31 days');
    });

    it('runs a task scheduled with `at` at that time, and one with a past `at` at once', async () => {
      const { queue, due, started } = await start();
      const at = new Date(Date.now() + 2_000);
      await queue.with({ at }).submit(due, 'at');
      const submittedPast = Date.now();
      await queue.with({ at: new Date(Date.now() - 60_000) }).submit(due, 'past');
      await waitFor(() => started.size === 2, 'both scheduled tasks', 10_000);
      const lateMs = (started.get('at') as number) - at.getTime();
      console.log(
        `[schedule ${kind}] at: ${lateMs} ms after due; past at: ran ${(started.get('past') as number) - submittedPast} ms after submit`,
      );
      expect(lateMs).toBeGreaterThanOrEqual(-EARLY_MS);
      expect(lateMs).toBeLessThan(TOLERANCE_MS);
      expect([...started.keys()]).toEqual(['past', 'at']);
    });
  });
}

describe('delays of hours and days', () => {
  it('amqp: a delay is split into levels whose TTLs add up to it, to the tick, up to the 31-day maximum', () => {
    const topology = new Topology({ prefix: 'taskq', queueType: 'classic', deliveryLimit: 20, maxPriority: 0 });
    const HOUR = 3_600_000;
    for (const delay of [
      1_000,
      3_000,
      7_000,
      59_990,
      HOUR,
      36 * HOUR + 17,
      3 * 24 * HOUR,
      30 * 24 * HOUR,
      MAX_DELAY_MS,
    ]) {
      const { exchange, routingKey } = topology.delayedRoute('taskq.q.mail', delay);
      const words = routingKey.split('.');
      const bits = words.slice(0, DELAY_LEVELS);
      expect(exchange).toBe(topology.delayExchange(DELAY_LEVELS - 1));
      expect(words.slice(DELAY_LEVELS).join('.')).toBe('taskq.q.mail');
      // Word i is the bit of level DELAY_LEVELS-1-i; a 1 means a stay of 2^level ticks in that level's queue.
      const total = bits.reduce(
        (sum, bit, i) => sum + (bit === '1' ? 2 ** (DELAY_LEVELS - 1 - i) * DELAY_TICK_MS : 0),
        0,
      );
      expect(Math.abs(total - delay)).toBeLessThanOrEqual(DELAY_TICK_MS / 2);
    }
    expect(MAX_DELAY_MS).toBeGreaterThan(31 * 24 * HOUR);
  });

  it('memory: a 30-day delay is held for 30 days (Node clamps single timeouts over 24.8 days to 1 ms)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const transport = memory();
      const delivered: number[] = [];
      await transport.consume({ queues: ['later'], prefetch: 10 }, (delivery) => {
        delivered.push(Date.now());
        delivery.ack();
      });
      const start = Date.now();
      const thirtyDays = 30 * 24 * 3_600_000;
      await transport.publish({ id: 'a', queue: 'later', body: Buffer.from('{}'), headers: {}, delayMs: thirtyDays });
      await vi.advanceTimersByTimeAsync(1_000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(delivered).toEqual([]);
      await vi.advanceTimersByTimeAsync(thirtyDays - 2_000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(delivered).toEqual([]);
      await vi.advanceTimersByTimeAsync(1_000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(delivered).toEqual([start + thirtyDays]);
      await transport.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
