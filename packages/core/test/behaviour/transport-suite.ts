import { AsyncLocalStorage } from 'node:async_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  currentTask,
  errorCode,
  memoryResultStore,
  type DeadEvent,
  NonRetryableError,
  TaskRegistry,
  type TaskQueue,
  type Transport,
  type Worker,
} from '../../src/index.js';
import { HEADER } from '../../src/adapter.js';
import * as mailA from '../fixtures/mail-a.js';
import * as mailB from '../fixtures/mail-b.js';
import { gate, sleep, waitFor } from '../../../../test-support/wait.js';

/** What a transport-specific test file provides to the shared behaviour suite. */
export interface TransportHarness {
  /** A new transport per test (memory: one shared by queue and workers). */
  make(): Transport;
  /** A fresh logical queue name. */
  queueName(label: string): string;
  /** Called after each test with the queue names it used. */
  cleanup(queues: string[]): Promise<void>;
}

/**
 * One behavioural suite run against every transport, so the embedded
 * transport cannot drift from RabbitMQ.
 */
export function describeTransportBehaviour(name: string, harness: TransportHarness): void {
  describe(`transport behaviour: ${name}`, () => {
    const toClose: Array<() => Promise<void>> = [];
    const used: string[] = [];

    afterEach(async () => {
      for (const close of toClose.splice(0).reverse()) await close();
      await harness.cleanup(used.splice(0));
    });

    function setup(registry: TaskRegistry, label: string, workerOptions: { concurrency?: number } = {}) {
      const transport = harness.make();
      const queueName = harness.queueName(label);
      used.push(queueName);
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const worker = createWorker({
        registry,
        transport,
        queues: [queueName],
        concurrency: workerOptions.concurrency ?? 10,
      });
      toClose.push(
        () => queue.close(),
        () => worker.stop({ timeout: 5_000 }),
      );
      return { transport, queue, worker, queueName };
    }

    it('runs two same-named functions from two modules as two tasks, each its own body', async () => {
      mailA.sent.length = 0;
      mailB.sent.length = 0;
      const registry = new TaskRegistry().module('a', mailA).module('b', mailB);
      const { queue, worker } = setup(registry, 'same-name');
      const results = new Map<string, unknown>();
      worker.on('completed', (event) => results.set(event.id, event.result));
      await worker.start();
      const first = await queue.submit(mailA.sendMail, 'ann@example.com');
      const second = await queue.submit(mailB.sendMail, 'bob@example.com');
      expect(first.name).toBe('a.sendMail');
      expect(second.name).toBe('b.sendMail');
      await waitFor(() => results.size === 2, 'both tasks');
      expect(mailA.sent).toEqual(['a:ann@example.com']);
      expect(mailB.sent).toEqual(['b:bob@example.com']);
      expect(results.get(first.id)).toBe('a:ann@example.com');
      expect(results.get(second.id)).toBe('b:bob@example.com');
    });

    it('carries meta set by submit middleware inside an AsyncLocalStorage scope to worker middleware', async () => {
      const requestScope = new AsyncLocalStorage<{ requestId: string; locale: string }>();
      const greet = async (name: string) => `hello ${name}`;
      const registry = new TaskRegistry().add('greet', greet);
      const { queue, worker } = setup(registry, 'meta');
      queue.use(async (submission, next) => {
        const scope = requestScope.getStore();
        if (scope) Object.assign(submission.meta, scope);
        await next();
      });
      const seen: Array<Record<string, unknown>> = [];
      worker.use(async (ctx, next) => {
        seen.push({ ...ctx.meta, fromCurrentTask: currentTask().meta.requestId });
        await next();
      });
      await worker.start();
      await requestScope.run({ requestId: 'req-42', locale: 'de-CH' }, () => queue.submit(greet, 'x'));
      await waitFor(() => seen.length === 1, 'the task');
      expect(seen[0]).toEqual({ requestId: 'req-42', locale: 'de-CH', fromCurrentTask: 'req-42' });
    });

    it('runs middleware in order, tears down when the task throws, runs process hooks once, exposes currentTask in nested calls', async () => {
      const log: string[] = [];
      const contexts: Array<{ id: string; name: string; attempt: number; aborted: boolean; local: unknown }> = [];
      async function deep() {
        await sleep(1);
        return new Promise<void>((resolve) =>
          setImmediate(() => {
            const task = currentTask();
            contexts.push({
              id: task.id,
              name: task.name,
              attempt: task.attempt,
              aborted: task.signal.aborted,
              local: task.get('tx'),
            });
            resolve();
          }),
        );
      }
      async function ok() {
        await deep();
      }
      async function boom() {
        await deep();
        throw new Error('boom');
      }
      const registry = new TaskRegistry().add('mw.ok', ok).add('mw.boom', boom);
      const { queue, worker } = setup(registry, 'middleware');
      let startups = 0;
      let shutdowns = 0;
      worker.onStartup(async () => {
        startups++;
      });
      worker.onShutdown(() => {
        shutdowns++;
      });
      worker.use(async (ctx, next) => {
        log.push(`outer-before ${ctx.name}`);
        try {
          await next();
        } finally {
          log.push(`outer-after ${ctx.name}`);
        }
      });
      worker.use(async (ctx, next) => {
        ctx.set('tx', `tx-${ctx.id}`);
        log.push(`inner-before ${ctx.name}`);
        try {
          await next();
          log.push(`inner-commit ${ctx.name}`);
        } catch (error) {
          log.push(`inner-rollback ${ctx.name}`);
          throw error;
        }
      });
      const dead: DeadEvent[] = [];
      worker.on('dead', (event) => dead.push(event));
      await worker.start();
      const a = await queue.submit(ok);
      await waitFor(() => contexts.length === 1, 'ok task');
      await queue.submit(boom);
      await waitFor(() => dead.length === 1, 'boom task dead-lettered');
      await worker.stop();
      expect(log).toEqual([
        'outer-before mw.ok',
        'inner-before mw.ok',
        'inner-commit mw.ok',
        'outer-after mw.ok',
        'outer-before mw.boom',
        'inner-before mw.boom',
        'inner-rollback mw.boom',
        'outer-after mw.boom',
      ]);
      expect(contexts[0]).toEqual({ id: a.id, name: 'mw.ok', attempt: 1, aborted: false, local: `tx-${a.id}` });
      expect(contexts[1].name).toBe('mw.boom');
      expect(startups).toBe(1);
      expect(shutdowns).toBe(1);
      expect(dead[0].reason).toBe('attempts-exhausted');
      expect((dead[0].error as Error).message).toBe('boom');
    });

    it('middleware reads the task definition as ctx.definition and the task name as ctx.name', async () => {
      async function resize(_px: number) {}
      const registry = new TaskRegistry().add('images.resize', resize, { attempts: 7 });
      const { queue, worker } = setup(registry, 'definition');
      const seen: Array<{ name: string; id: string; fn: unknown; attempts: unknown; hasTask: boolean }> = [];
      worker.use(async (ctx, next) => {
        seen.push({
          name: ctx.name,
          id: ctx.definition.id,
          fn: ctx.definition.fn,
          attempts: ctx.definition.options.attempts,
          hasTask: 'task' in ctx,
        });
        await next();
      });
      await worker.start();
      await queue.submit(resize, 64);
      await waitFor(() => seen.length === 1, 'the task');
      expect(seen[0]).toEqual({ name: 'images.resize', id: 'images.resize', fn: resize, attempts: 7, hasTask: false });
    });

    it('reports a throwing task and dead-letters it instead of redelivering it forever', async () => {
      let runs = 0;
      async function alwaysFails() {
        runs++;
        throw new Error('downstream is down');
      }
      const registry = new TaskRegistry().add('fails', alwaysFails);
      const { queue, worker, transport } = setup(registry, 'fails');
      const failed: Array<{ attempt: number; willRetry: boolean }> = [];
      worker.on('failed', (event) => failed.push({ attempt: event.attempt, willRetry: event.willRetry }));
      await worker.start();
      const dead: DeadEvent[] = [];
      worker.on('dead', (event) => dead.push(event));
      const handle = await queue.with({ attempts: 3, backoff: { type: 'fixed', delay: 50 } }).submit(alwaysFails);
      await waitFor(() => dead.length === 1, 'dead letter');
      await sleep(300);
      expect(runs).toBe(3);
      expect(failed).toEqual([
        { attempt: 1, willRetry: true },
        { attempt: 2, willRetry: true },
        { attempt: 3, willRetry: false },
      ]);
      expect(dead[0]).toMatchObject({ id: handle.id, name: 'fails', reason: 'attempts-exhausted' });
      expect(transport.durable).toBe(name === 'amqp');
    });

    it('fails a NonRetryableError at once', async () => {
      let runs = 0;
      async function invalid() {
        runs++;
        throw new NonRetryableError('the address is malformed');
      }
      const registry = new TaskRegistry().add('invalid', invalid, { attempts: 5 });
      const { queue, worker } = setup(registry, 'non-retryable');
      const dead: DeadEvent[] = [];
      worker.on('dead', (event) => dead.push(event));
      await worker.start();
      await queue.submit(invalid);
      await waitFor(() => dead.length === 1, 'dead letter');
      expect(runs).toBe(1);
      expect(dead[0].reason).toBe('non-retryable');
    });

    it('shares 1,000 tasks between two workers on one queue, each task run exactly once', async () => {
      const runs = new Map<number, number>();
      const byWorker = [0, 0];
      async function work(n: number) {
        runs.set(n, (runs.get(n) ?? 0) + 1);
        await sleep(Math.random() * 2);
      }
      const registry = new TaskRegistry().add('work', work);
      const { queue, worker, transport, queueName } = setup(registry, 'two-workers', { concurrency: 20 });
      const second: Worker = createWorker({ registry, transport, queues: [queueName], concurrency: 20 });
      toClose.push(() => second.stop({ timeout: 5_000 }));
      worker.on('completed', () => byWorker[0]++);
      second.on('completed', () => byWorker[1]++);
      await worker.start();
      await second.start();
      const argsList = Array.from({ length: 1_000 }, (_, i) => [i] as [number]);
      const handles = await queue.submitMany(work, argsList);
      expect(new Set(handles.map((h) => h.id)).size).toBe(1_000);
      await waitFor(() => byWorker[0] + byWorker[1] === 1_000, '1,000 completions');
      await sleep(200);
      expect(runs.size).toBe(1_000);
      expect([...runs.values()].every((count) => count === 1)).toBe(true);
      expect(byWorker[0]).toBeGreaterThan(0);
      expect(byWorker[1]).toBeGreaterThan(0);
      console.log(
        `[two workers] submitted=1000 completed=${byWorker[0] + byWorker[1]} (worker A ${byWorker[0]}, worker B ${byWorker[1]}) duplicates=0`,
      );
    });

    it('stop() during 50 in-flight slow tasks lets all 50 finish and acks them; none reaches the next worker', async () => {
      const finished = new Set<number>();
      async function slow(n: number) {
        await sleep(300);
        finished.add(n);
      }
      const registry = new TaskRegistry().add('slow', slow);
      const { queue, worker, transport, queueName } = setup(registry, 'stop-drain', { concurrency: 50 });
      let started = 0;
      worker.on('active', () => started++);
      await worker.start();
      await queue.submitMany(
        slow,
        Array.from({ length: 50 }, (_, i) => [i] as [number]),
      );
      await waitFor(() => started === 50, '50 tasks in flight');
      await worker.stop({ timeout: 10_000 });
      expect(finished.size).toBe(50);
      const next = createWorker({ registry, transport, queues: [queueName], concurrency: 50 });
      let redelivered = 0;
      next.on('active', () => redelivered++);
      await next.start();
      await sleep(500);
      await next.stop();
      expect(redelivered).toBe(0);
    });

    it('pauses a queue: the running task finishes, nothing new starts, a worker started later starts paused; resume drains it', async () => {
      const started: string[] = [];
      const release = gate();
      async function step(label: string) {
        started.push(label);
        if (label === 'first') await release.promise;
      }
      const registry = new TaskRegistry().add('step', step);
      const { transport, queue, worker, queueName } = setup(registry, 'pause');
      const completed: string[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      await worker.start();
      const first = await queue.submit(step, 'first');
      await waitFor(() => started.length === 1, 'the first task to start');
      await queue.pause(queueName);
      expect(await queue.isPaused(queueName)).toBe(true);
      await sleep(300);
      const handles = await Promise.all(['a', 'b', 'c'].map((label) => queue.submit(step, label)));
      release.open();
      await waitFor(() => completed.includes(first.id), 'the running task to finish after the pause');
      const later = createWorker({ registry, transport, queues: [queueName], concurrency: 5 });
      later.on('completed', (event) => completed.push(event.id));
      toClose.push(() => later.stop({ timeout: 5_000 }));
      await later.start();
      await sleep(700);
      expect(started).toEqual(['first']);
      await queue.resume(queueName);
      expect(await queue.isPaused(queueName)).toBe(false);
      await waitFor(() => handles.every((handle) => completed.includes(handle.id)), 'the backlog after resume');
      expect([...started].sort()).toEqual(['a', 'b', 'c', 'first']);
    });

    it('cancels a running task (signal aborted, not retried, status cancelled) and a queued one (never runs)', async () => {
      const aborted: unknown[] = [];
      const started: string[] = [];
      async function held(label: string) {
        started.push(label);
        const { signal } = currentTask();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        aborted.push(signal.reason);
        throw signal.reason;
      }
      const registry = new TaskRegistry().add('held', held);
      const transport = harness.make();
      const queueName = harness.queueName('cancel');
      used.push(queueName);
      const store = memoryResultStore();
      const queue = createQueue({ registry, transport, store, defaults: { queue: queueName, attempts: 3 } });
      const worker = createWorker({ registry, transport, store, queues: [queueName], concurrency: 1 });
      toClose.push(
        () => queue.close(),
        () => worker.stop({ timeout: 5_000 }),
      );
      const failed: Array<{ willRetry: boolean; code: string | undefined }> = [];
      worker.on('failed', (event) => failed.push({ willRetry: event.willRetry, code: errorCode(event.error) }));
      // Not the dead-letter queue's count: on amqp it is the default prefix's, shared with other tests.
      const dead: string[] = [];
      worker.on('dead', (event) => dead.push(event.id));
      await worker.start();
      const running = await queue.submit(held, 'running');
      const waiting = await queue.submit(held, 'waiting');
      await waitFor(() => started.length === 1, 'the first task to start');
      expect(await waiting.cancel()).toBe(true);
      expect(await running.cancel()).toBe(true);
      await waitFor(() => failed.length === 1, 'the cancelled run to end');
      expect(failed).toEqual([{ willRetry: false, code: 'TASKQ_TASK_CANCELLED' }]);
      expect(errorCode(aborted[0])).toBe('TASKQ_TASK_CANCELLED');
      await sleep(500);
      expect(started).toEqual(['running']);
      expect((await queue.status(running.id))?.state).toBe('cancelled');
      expect((await queue.status(waiting.id))?.state).toBe('cancelled');
      expect(dead).toEqual([]);
    });

    it('lists its live workers from their heartbeats: queues, concurrency, running count, pid', async () => {
      const release = gate();
      async function busy() {
        await release.promise;
      }
      const { queue, worker, queueName } = setup(new TaskRegistry().add('busy', busy), 'workers', { concurrency: 4 });
      await worker.start();
      await queue.submit(busy);
      await waitFor(() => worker.active === 1, 'the task to start');
      // On amqp the default prefix is shared with other tests: only this test's worker is looked at.
      const mine = (await queue.workers({ wait: 300 })).filter((beat) => beat.queues.includes(queueName));
      release.open();
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ pid: process.pid, queues: [queueName], concurrency: 4, running: 1 });
      expect(mine[0].intervalMs).toBe(5_000);
    });

    it('holds a delayed task back until it is due', async () => {
      const startedAt: number[] = [];
      async function later() {
        startedAt.push(Date.now());
      }
      const registry = new TaskRegistry().add('later', later);
      const { queue, worker } = setup(registry, 'delay');
      await worker.start();
      const submittedAt = Date.now();
      await queue.with({ delay: 700 }).submit(later);
      await waitFor(() => startedAt.length === 1, 'the delayed task');
      expect(startedAt[0] - submittedAt).toBeGreaterThanOrEqual(690);
    });

    it('refuses a message whose headers are too large to publish, alone, with TASKQ_UNPUBLISHABLE_MESSAGE; the next task runs', async () => {
      async function next() {
        return 'next';
      }
      const { transport, queue, worker, queueName } = setup(new TaskRegistry().add('next', next), 'unpublishable');
      const completed: string[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      await worker.start();
      const headers = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`x-pad-${i}`, 'p'.repeat(1_000)]));
      const refused = await transport
        .publish({ id: 'too-many-headers', queue: queueName, body: Buffer.from('{}'), headers })
        .catch((error: unknown) => error);
      expect((refused as { code?: string }).code).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
      const task = await queue.submit(next);
      await waitFor(() => completed.includes(task.id), 'the task after the refused message');
    });

    it('dead-letters a message whose task id the worker does not know, and goes on', async () => {
      async function known() {
        return 'ok';
      }
      async function other() {
        return 'other';
      }
      const submitRegistry = new TaskRegistry().add('known', known).add('not.in.worker', other);
      const workerRegistry = new TaskRegistry().add('known', known);
      const transport = harness.make();
      const queueName = harness.queueName('unknown');
      used.push(queueName);
      const queue = createQueue({ registry: submitRegistry, transport, defaults: { queue: queueName } });
      const worker = createWorker({ registry: workerRegistry, transport, queues: [queueName] });
      toClose.push(
        () => queue.close(),
        () => worker.stop(),
      );
      const dead: DeadEvent[] = [];
      const completed: string[] = [];
      worker.on('dead', (event) => dead.push(event));
      worker.on('completed', (event) => completed.push(event.name));
      await worker.start();
      await queue.submit(other);
      await queue.submit(known);
      await waitFor(() => dead.length === 1 && completed.length === 1, 'dead letter and next task');
      expect(dead[0]).toMatchObject({ name: 'not.in.worker', reason: 'unknown-task' });
      expect(completed).toEqual(['known']);
    });
  });
}

export { HEADER };
export type { TaskQueue };
