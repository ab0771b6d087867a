import { createQueue, createWorker, memory, memoryResultStore, NonRetryableError, silentLogger, TaskRegistry, type TaskQueue } from '@taskq/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { accepted, taskqPlugin, taskStatusHandler } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { eventually, gate, sleep } from '../../../test-support/wait.js';

const reportGate = { current: gate() };
async function buildReport(month: string): Promise<{ month: string; rows: number }> {
  await reportGate.current.promise;
  return { month, rows: 42 };
}
async function brokenReport(month: string): Promise<never> {
  throw new NonRetryableError(`no data for ${month}`);
}
const registry = new TaskRegistry().add('reports.build', buildReport).add('reports.broken', brokenReport);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function setup(build: (app: FastifyInstance, queue: TaskQueue) => void | Promise<void>): Promise<{ url: string; startWorker: () => Promise<void> }> {
  const store = memoryResultStore();
  const { queue, name } = testQueue(cleanup, 'fastify-status', registry, { store });
  const startWorker = async (): Promise<void> => {
    const worker = createWorker({ registry, transport: queue.transport, store, queues: [name], logger: silentLogger });
    await worker.start();
    cleanup.add(() => worker.stop({ timeout: 2_000 }));
  };
  const { url } = await serve(cleanup, (app) => build(app, queue));
  return { url, startWorker };
}

describe('Fastify: 202 Accepted and the status route', () => {
  it('POST /reports answers 202 + Location (the plugin’s status route); polling it goes queued → active → succeeded with the result', async () => {
    reportGate.current = gate();
    const { url, startWorker } = await setup(async (app, queue) => {
      await app.register(taskqPlugin, { queue, statusRoute: '/jobs/:id', closeQueue: false });
      app.post('/reports', async (request, reply) => accepted(reply, await request.taskQueue.submit(buildReport, '2026-01'), { retryAfter: 1 }));
    });
    const response = await fetch(`${url}/reports`, { method: 'POST' });
    expect(response.status).toBe(202);
    const { task } = (await response.json()) as { task: string };
    const location = response.headers.get('location');
    expect(location).toBe(`${url}/jobs/${task}`);
    expect(response.headers.get('retry-after')).toBe('1');

    const seen: string[] = [];
    let last: Record<string, unknown> = {};
    const poll = async (): Promise<string> => {
      const status = await fetch(location ?? '');
      expect(status.status).toBe(200);
      expect(status.headers.get('cache-control')).toBe('no-store');
      last = (await status.json()) as Record<string, unknown>;
      if (seen.at(-1) !== last.state) seen.push(String(last.state));
      return String(last.state);
    };
    expect(await poll()).toBe('queued');
    await startWorker();
    await eventually(async () => (await poll()) === 'active', 'the task to start');
    await sleep(30);
    await poll();
    reportGate.current.open();
    await eventually(async () => (await poll()) === 'succeeded', 'the task to succeed');
    expect(seen).toEqual(['queued', 'active', 'succeeded']);
    expect(last).toEqual({
      id: task,
      state: 'succeeded',
      attempts: 1,
      result: { month: '2026-01', rows: 42 },
      enqueuedAt: expect.any(String),
      startedAt: expect.any(String),
      finishedAt: expect.any(String),
    });
    console.log(`[status route] states seen by polling ${location}: ${seen.join(' → ')}`);
  });

  it('answers 404 for an unknown or malformed id', async () => {
    const { url } = await setup(async (app, queue) => {
      await app.register(taskqPlugin, { queue, statusRoute: true, closeQueue: false });
    });
    const unknown = await fetch(`${url}/tasks/0190f5b4-0000-7000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'TASKQ_UNKNOWN_TASK', message: 'no task with this id' } });
    expect((await fetch(`${url}/tasks/not-a-task-id'%20OR%201=1`)).status).toBe(404);
  });

  it('shows a failed task’s code and class name, but no message, stack, task name or queue unless internals are asked for', async () => {
    const { url, startWorker } = await setup(async (app, queue) => {
      await app.register(taskqPlugin, { queue, statusRoute: true, closeQueue: false });
      app.post('/broken', async (request, reply) => accepted(reply, await request.taskQueue.submit(brokenReport, '1999-12')));
      app.get('/admin/tasks/:id', taskStatusHandler(queue, { internals: true }));
    });
    await startWorker();
    const { task } = (await (await fetch(`${url}/broken`, { method: 'POST' })).json()) as { task: string };
    let body: Record<string, unknown> = {};
    await eventually(async () => {
      body = (await (await fetch(`${url}/tasks/${task}`)).json()) as Record<string, unknown>;
      return body.state === 'dead';
    }, 'the task to be dead-lettered');
    expect(body.error).toEqual({ code: 'TASKQ_NON_RETRYABLE', name: 'NonRetryableError' });
    expect(JSON.stringify(body)).not.toMatch(/1999-12|stack|reports\.broken|at .*\.ts/);
    const admin = (await (await fetch(`${url}/admin/tasks/${task}`)).json()) as { name: string; queue: string; error: { message?: string; stack?: string } };
    expect(admin.error.message).toBe('no data for 1999-12');
    expect(admin.name).toBe('reports.broken');
    expect(admin.queue).toMatch(/^test-fastify-status-/);
    expect(admin.error.stack).toContain('no data for 1999-12');
  });

  it('refuses a queue without a result store for the status route, naming the option', () => {
    const queue = createQueue({ registry, transport: memory() });
    cleanup.add(() => queue.close());
    expect(() => taskStatusHandler(queue)).toThrowError(expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option: 'queue' }));
  });
});
