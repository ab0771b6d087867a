import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createQueue,
  createWorker,
  currentTask,
  type DeadEvent,
  errorCode,
  type FailedEvent,
  TaskRegistry,
} from '../src/index.js';
import { eventually, sleep, waitFor } from '../../../test-support/wait.js';
import { longTimeout } from '../src/internal/long-timeout.js';
import { isolatedPerTest, transportPairs } from './support/isolated.js';

const transports = transportPairs('timeout');

for (const [kind, make] of Object.entries(transports)) {
  describe(`task timeouts: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    async function start(registry: TaskRegistry) {
      const env = make(broker);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName] });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const failed: FailedEvent[] = [];
      const dead: DeadEvent[] = [];
      const completed: string[] = [];
      worker.on('failed', (e) => failed.push(e));
      worker.on('dead', (e) => dead.push(e));
      worker.on('completed', (e) => completed.push(e.id));
      await worker.start();
      return { queue, failed, dead, completed, env };
    }

    it('with({ timeout }) aborts currentTask().signal, fails the attempt with TaskTimeoutError and retries per policy', async () => {
      const seen: Array<{ attempt: number; aborted: boolean; reason: string | undefined }> = [];
      async function slowFirst() {
        const task = currentTask();
        if (task.attempt === 1) {
          // Waits on its signal like a well-behaved fetch() would.
          await new Promise<void>((resolve) => task.signal.addEventListener('abort', () => resolve(), { once: true }));
        }
        seen.push({ attempt: task.attempt, aborted: task.signal.aborted, reason: errorCode(task.signal.reason) });
      }
      const registry = new TaskRegistry().add('timeout.slowFirst', slowFirst);
      const { queue, failed, completed } = await start(registry);
      const handle = await queue
        .with({ timeout: 200, attempts: 2, backoff: { type: 'fixed', delay: 50 } })
        .submit(slowFirst);
      await waitFor(() => completed.includes(handle.id), 'the second attempt');
      expect(seen).toEqual([
        { attempt: 1, aborted: true, reason: 'TASKQ_TASK_TIMEOUT' },
        { attempt: 2, aborted: false, reason: undefined },
      ]);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ attempt: 1, willRetry: true });
      expect(errorCode(failed[0].error)).toBe('TASKQ_TASK_TIMEOUT');
      expect((failed[0].error as Error).message).toBe('task attempt timed out after 200 ms');
      expect(failed[0].durationMs).toBeGreaterThanOrEqual(190);
    });

    it('a per-task timeout fails a task that ignores its signal; after the last attempt it is dead-lettered with the timeout error', async () => {
      let runs = 0;
      async function stubborn() {
        runs++;
        await sleep(600);
      }
      const registry = new TaskRegistry().add('timeout.stubborn', stubborn, {
        timeout: '150ms',
        attempts: 2,
        backoff: { type: 'fixed', delay: 10 },
      });
      const { queue, failed, dead, env } = await start(registry);
      const handle = await queue.submit(stubborn);
      await waitFor(() => dead.length === 1, 'the dead letter');
      expect(runs).toBe(2);
      expect(failed.map((e) => [e.attempt, e.willRetry, errorCode(e.error)])).toEqual([
        [1, true, 'TASKQ_TASK_TIMEOUT'],
        [2, false, 'TASKQ_TASK_TIMEOUT'],
      ]);
      expect(dead[0]).toMatchObject({ id: handle.id, reason: 'attempts-exhausted' });
      await eventually(async () => (await env.consumer.dead.count()) === 1, 'the stored dead letter');
      const [letter] = await env.consumer.dead.list();
      expect(letter).toMatchObject({
        id: handle.id,
        reason: 'attempts-exhausted',
        attempts: 2,
        error: 'task attempt timed out after 150 ms',
      });
      expect(letter.errorStack).toContain('TaskTimeoutError');
    });

    it("a timeout above 2^31-1 ms (setTimeout's limit, about 24.8 days) is honoured: a quick task under it completes instead of timing out at once", async () => {
      async function quick() {
        await sleep(50);
      }
      const registry = new TaskRegistry().add('timeout.quick', quick, { timeout: '25d' });
      const { queue, failed, completed } = await start(registry);
      // One per path the limit can come from: the registry's options and the envelope's (with()).
      const fromRegistry = await queue.submit(quick);
      const fromSubmit = await queue.with({ timeout: 2 ** 31 }).submit(quick);
      await waitFor(() => completed.length + failed.length >= 2, 'both tasks to settle');
      console.log(
        `[timeouts ${kind}] 25d and 2^31 ms limits: completed=${completed.length} failed=${failed.map((e) => errorCode(e.error)).join(',') || 0}`,
      );
      expect(failed).toEqual([]);
      expect(completed.sort()).toEqual([fromRegistry.id, fromSubmit.id].sort());
    });
  });
}

describe("longTimeout (the worker's per-attempt timer)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([2 ** 31 - 1, 2 ** 31 + 5, 3 * 2 ** 31 + 17])(
    'fires after exactly %d ms, not before, and not when cancelled',
    (ms) => {
      vi.useFakeTimers();
      const fired: number[] = [];
      const start = Date.now();
      longTimeout(() => fired.push(Date.now() - start), ms);
      const cancel = longTimeout(() => fired.push(-1), ms);
      vi.advanceTimersByTime(ms - 1);
      expect(fired).toEqual([]);
      cancel();
      vi.advanceTimersByTime(1);
      expect(fired).toEqual([ms]);
      vi.advanceTimersByTime(4 * 2 ** 31);
      expect(fired).toEqual([ms]);
    },
  );
});
