// The status route's behaviour (202 + Location, polling, 404, privacy) is in the HTTP contract suite
// (http-contract.test.ts); this is Fastify's own part.
import { createQueue, memory, memoryResultStore, TaskRegistry, type TaskQueue } from '@taskq/core';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { accepted, taskqPlugin, taskStatusHandler } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';

async function buildReport(month: string): Promise<{ month: string; rows: number }> {
  return { month, rows: 42 };
}
const registry = new TaskRegistry().add('reports.build', buildReport);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function setup(
  build: (app: FastifyInstance, queue: TaskQueue) => void | Promise<void>,
): Promise<{ url: string }> {
  const { queue } = testQueue(cleanup, 'fastify-status', registry, { store: memoryResultStore() });
  return serve(cleanup, (app) => build(app, queue));
}

describe('Fastify: 202 Accepted and the status route', () => {
  it('points accepted()’s Location at the plugin’s own status route path', async () => {
    const { url } = await setup(async (app, queue) => {
      await app.register(taskqPlugin, { queue, statusRoute: '/jobs/:id' });
      app.post('/reports', async (request, reply) =>
        accepted(reply, await request.taskQueue.submit(buildReport, '2026-01')),
      );
    });
    const response = await fetch(`${url}/reports`, { method: 'POST' });
    expect(response.status).toBe(202);
    const { task } = (await response.json()) as { task: string };
    expect(response.headers.get('location')).toBe(`${url}/jobs/${task}`);
    const status = await fetch(response.headers.get('location') ?? '');
    expect(status.status).toBe(200);
    expect(((await status.json()) as { state: string }).state).toBe('queued');
  });

  it('refuses a queue without a result store for the status route, naming the option', () => {
    const queue = createQueue({ registry, transport: memory() });
    cleanup.add(() => queue.close());
    expect(() => taskStatusHandler(queue)).toThrowError(
      expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option: 'queue' }),
    );
  });
});
