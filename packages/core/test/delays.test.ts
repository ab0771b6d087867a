import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, TaskRegistry, type Transport } from '../src/index.js';
import { IsolatedBroker } from './support/isolated.js';
import { waitFor } from './support/wait.js';

/** How late a delayed task may start (the issue: "within 0.5 s of due"). */
const TOLERANCE_MS = 500;
/** Delays are rounded to the AMQP topology's 10 ms tick, so a task may start a few ms before its exact due time. */
const EARLY_MS = 20;

interface Env {
  /** Transport for the submitting side. */
  submitter: Transport;
  /** Transport for the worker (the same one for memory, a second connection pair for amqp). */
  consumer: Transport;
  queueName: string;
}

const transports: Record<string, (broker: IsolatedBroker) => Env> = {
  memory: (broker) => {
    const shared = broker.memory();
    return { submitter: shared, consumer: shared, queueName: broker.queue('delays') };
  },
  amqp: (broker) => ({ submitter: broker.amqp(), consumer: broker.amqp(), queueName: broker.queue('delays') }),
};

for (const [kind, make] of Object.entries(transports)) {
  describe(`delays and schedules: ${kind}`, () => {
    let broker = new IsolatedBroker();
    const stops: Array<() => Promise<void>> = [];

    afterEach(async () => {
      for (const stop of stops.splice(0).reverse()) await stop();
      await broker.cleanup();
      broker = new IsolatedBroker();
    });

    async function start() {
      const started = new Map<string, number>();
      async function due(label: string) {
        started.set(label, Date.now());
      }
      const registry = new TaskRegistry().add('delays.due', due);
      const env = make(broker);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName] });
      stops.push(() => queue.close(), () => worker.stop({ timeout: 2_000 }));
      await worker.start();
      return { queue, due, started };
    }

    it('starts 1 s, 3 s and 7 s delays within 0.5 s of due and in due order, the longest submitted first', async () => {
      const { queue, due, started } = await start();
      const dueAt = new Map<string, number>();
      // Longest first: a per-message TTL in one queue would hold the short ones behind it.
      for (const [label, delay] of [['7s', 7_000], ['3s', '3s'], ['1s', 1_000]] as const) {
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

    it('runs a task scheduled with `at` at that time, and one with a past `at` at once', async () => {
      const { queue, due, started } = await start();
      const at = new Date(Date.now() + 2_000);
      await queue.with({ at }).submit(due, 'at');
      const submittedPast = Date.now();
      await queue.with({ at: new Date(Date.now() - 60_000) }).submit(due, 'past');
      await waitFor(() => started.size === 2, 'both scheduled tasks', 10_000);
      const lateMs = (started.get('at') as number) - at.getTime();
      console.log(`[schedule ${kind}] at: ${lateMs} ms after due; past at: ran ${(started.get('past') as number) - submittedPast} ms after submit`);
      expect(lateMs).toBeGreaterThanOrEqual(-EARLY_MS);
      expect(lateMs).toBeLessThan(TOLERANCE_MS);
      expect([...started.keys()]).toEqual(['past', 'at']);
    });
  });
}
