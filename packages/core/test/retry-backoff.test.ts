import { describe, expect, it } from 'vitest';
import {
  type ActiveEvent,
  type CompletedEvent,
  createQueue,
  createWorker,
  currentTask,
  type DeadEvent,
  type FailedEvent,
  NonRetryableError,
  TaskRegistry,
  type WorkerOptions,
} from '../src/index.js';
import { eventually, sleep, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest, transportPairs } from './support/isolated.js';

/** Retry delays go through the AMQP delay levels, which round to a 10 ms tick. */
const TICK_SLACK_MS = 15;

const transports = transportPairs('retry');

class ValidationError extends Error {}

for (const [kind, make] of Object.entries(transports)) {
  describe(`retries and backoff: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    /** A queue and a started worker on `registry`, recording every lifecycle event. */
    async function start(registry: TaskRegistry, workerOptions: Partial<WorkerOptions> = {}) {
      const env = make(broker);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName], ...workerOptions });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const events = {
        active: [] as ActiveEvent[],
        failed: [] as FailedEvent[],
        completed: [] as CompletedEvent[],
        dead: [] as DeadEvent[],
      };
      worker.on('active', (e) => events.active.push(e));
      worker.on('failed', (e) => events.failed.push(e));
      worker.on('completed', (e) => events.completed.push(e));
      worker.on('dead', (e) => events.dead.push(e));
      await worker.start();
      return { queue, worker, events, env };
    }

    /** A task that fails until its `succeedOn`-th attempt, recording the attempt number it saw and when it started. */
    function flakyTask(succeedOn: number) {
      const runs: Array<{ attempt: number; at: number }> = [];
      async function flaky() {
        const { attempt } = currentTask();
        runs.push({ attempt, at: Date.now() });
        if (attempt < succeedOn) throw new Error(`attempt ${attempt} failed`);
        return `ok on ${attempt}`;
      }
      return { flaky, runs };
    }

    function gaps(runs: Array<{ at: number }>): number[] {
      return runs.slice(1).map((run, i) => run.at - runs[i].at);
    }

    it('a task failing twice then succeeding runs 3 times; attempts reach currentTask() and the events; fixed backoff is observed', async () => {
      const { flaky, runs } = flakyTask(3);
      const registry = new TaskRegistry().add('retry.flaky', flaky);
      const { queue, events } = await start(registry);
      const handle = await queue.with({ attempts: 3, backoff: { type: 'fixed', delay: 300 } }).submit(flaky);
      await waitFor(() => events.completed.length === 1, 'the third attempt to succeed', 10_000);
      expect(runs.map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(events.active.map((e) => [e.id, e.attempt])).toEqual([
        [handle.id, 1],
        [handle.id, 2],
        [handle.id, 3],
      ]);
      expect(
        events.failed.map((e) => ({
          attempt: e.attempt,
          willRetry: e.willRetry,
          retryInMs: e.retryInMs,
          message: (e.error as Error).message,
        })),
      ).toEqual([
        { attempt: 1, willRetry: true, retryInMs: 300, message: 'attempt 1 failed' },
        { attempt: 2, willRetry: true, retryInMs: 300, message: 'attempt 2 failed' },
      ]);
      expect(events.completed[0]).toMatchObject({ id: handle.id, attempt: 3, result: 'ok on 3' });
      expect(events.dead).toEqual([]);
      const observed = gaps(runs);
      console.log(`[retry ${kind}] runs=${runs.length} fixed backoff 300 ms, observed gaps ${observed.join(', ')} ms`);
      for (const gap of observed) expect(gap).toBeGreaterThanOrEqual(300 - TICK_SLACK_MS);
    });

    it('exponential backoff with jitter (per task) waits between half and all of base·2^(n-2), and the observed gaps follow', async () => {
      const { flaky, runs } = flakyTask(4);
      const registry = new TaskRegistry().add('retry.exp', flaky, {
        attempts: 4,
        backoff: { type: 'exponential', delay: 200, jitter: true },
      });
      const { queue, events } = await start(registry);
      await queue.submit(flaky);
      await waitFor(() => events.completed.length === 1, 'the fourth attempt to succeed', 10_000);
      const delays = events.failed.map((e) => e.retryInMs as number);
      expect(delays).toHaveLength(3);
      [200, 400, 800].forEach((base, i) => {
        expect(delays[i]).toBeGreaterThanOrEqual(base / 2);
        expect(delays[i]).toBeLessThanOrEqual(base);
      });
      const observed = gaps(runs);
      console.log(
        `[retry ${kind}] exponential+jitter planned ${delays.join(', ')} ms, observed ${observed.join(', ')} ms`,
      );
      observed.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(delays[i] - TICK_SLACK_MS));
    });

    it('exponential backoff without jitter doubles up to maxDelay', async () => {
      const { flaky, runs } = flakyTask(5);
      const registry = new TaskRegistry().add('retry.capped', flaky);
      const { queue, events } = await start(registry);
      await queue
        .with({ attempts: 5, backoff: { type: 'exponential', delay: 100, maxDelay: '250ms', jitter: false } })
        .submit(flaky);
      await waitFor(() => events.completed.length === 1, 'the fifth attempt to succeed', 10_000);
      expect(events.failed.map((e) => e.retryInMs)).toEqual([100, 200, 250, 250]);
      gaps(runs).forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual([100, 200, 250, 250][i] - TICK_SLACK_MS));
    });

    it('a NonRetryableError runs once and is dead-lettered with its error, whatever the attempts', async () => {
      let runs = 0;
      async function invalid() {
        runs++;
        throw new NonRetryableError('card number is invalid');
      }
      const registry = new TaskRegistry().add('retry.invalid', invalid, { attempts: 5 });
      const { queue, events, env } = await start(registry);
      const handle = await queue.with({ attempts: 10 }).submit(invalid);
      await waitFor(() => events.dead.length === 1, 'the dead letter');
      await sleep(300);
      expect(runs).toBe(1);
      expect(events.failed).toHaveLength(1);
      expect(events.failed[0]).toMatchObject({ attempt: 1, willRetry: false });
      expect(events.dead[0]).toMatchObject({ id: handle.id, reason: 'non-retryable' });
      await eventually(async () => (await env.consumer.dead.count()) === 1, 'the stored dead letter');
      const [letter] = await env.consumer.dead.list();
      expect(letter).toMatchObject({
        id: handle.id,
        reason: 'non-retryable',
        error: 'card number is invalid',
        attempts: 1,
        task: 'retry.invalid',
      });
      expect(letter.errorStack).toContain('NonRetryableError');
    });

    it('the retryIf predicate fails chosen errors at once and retries the others; exhausted attempts are dead-lettered with the last error', async () => {
      const runs: string[] = [];
      async function validate(kindOfError: 'validation' | 'network') {
        runs.push(`${kindOfError} #${currentTask().attempt}`);
        throw kindOfError === 'validation'
          ? new ValidationError('email is missing')
          : new Error(`network down (attempt ${currentTask().attempt})`);
      }
      const registry = new TaskRegistry().add('retry.validate', validate, {
        attempts: 3,
        backoff: { type: 'fixed', delay: 20 },
      });
      const { queue, events, env } = await start(registry, { retryIf: (error) => !(error instanceof ValidationError) });
      const validation = await queue.submit(validate, 'validation');
      await waitFor(() => events.dead.length === 1, 'the validation failure');
      const network = await queue.submit(validate, 'network');
      await waitFor(() => events.dead.length === 2, 'the network failure after three attempts');
      expect(runs).toEqual(['validation #1', 'network #1', 'network #2', 'network #3']);
      expect(events.dead.map((e) => [e.id, e.reason])).toEqual([
        [validation.id, 'non-retryable'],
        [network.id, 'attempts-exhausted'],
      ]);
      await eventually(async () => (await env.consumer.dead.count()) === 2, 'two stored dead letters');
      const letters = await env.consumer.dead.list();
      expect(letters[1]).toMatchObject({
        id: network.id,
        reason: 'attempts-exhausted',
        attempts: 3,
        error: 'network down (attempt 3)',
      });
    });

    it('submit options override task options: with({ attempts: 1 }) makes a 5-attempt task fail at once', async () => {
      const { flaky, runs } = flakyTask(2);
      const registry = new TaskRegistry().add('retry.override', flaky, {
        attempts: 5,
        backoff: { type: 'fixed', delay: 10 },
      });
      const { queue, events } = await start(registry);
      await queue.with({ attempts: 1 }).submit(flaky);
      await waitFor(() => events.dead.length === 1, 'the dead letter');
      expect(runs.map((r) => r.attempt)).toEqual([1]);
      expect(events.dead[0].reason).toBe('attempts-exhausted');
    });
  });
}
