// A request as a task argument is in the HTTP contract suite (http-contract.test.ts); this is Fastify's own trust
// check.
import {
  createQueue,
  createWorker,
  memoryResultStore,
  silentLogger,
  TaskRegistry,
  type TaskQueue,
  type UrlHelpers,
} from '@taskq/core';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { deleteQueues, uniqueQueue } from '../../../test-support/rabbit.js';
import { testAmqp } from '../../../test-support/taskq-amqp.js';

/** A task that takes the request, as the essay's send_push_message does. */
async function newsLinks(request: UrlHelpers, slug: string): Promise<{ news: string; home: string }> {
  return { news: request.routeUrl('news', { slug, ref: 'push' }), home: request.absoluteUrl('/') };
}
const registry = new TaskRegistry().add('push.newsLinks', newsLinks);
const routes = { news: '/news/:slug' };

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function amqpQueue(): { queue: TaskQueue; name: string } {
  const name = uniqueQueue('fastify-request');
  const queue = createQueue({ registry, transport: testAmqp(), store: memoryResultStore(), defaults: { queue: name } });
  cleanup.add(() => deleteQueues([name]));
  cleanup.add(() => queue.close());
  return { queue, name };
}

async function startWorker(queue: TaskQueue, name: string): Promise<void> {
  const worker = createWorker({
    registry,
    transport: queue.transport,
    store: queue.store,
    queues: [name],
    logger: silentLogger,
  });
  await worker.start();
  cleanup.add(() => worker.stop());
}

/** The handler calls the task directly with the live request and submits it with the same request. */
function publishRoutes(queue: TaskQueue) {
  return async (app: FastifyInstance): Promise<void> => {
    // The test's own address and the public host a proxy forwards.
    await app.register(taskqPlugin, { queue, routes, allowedHosts: ['127.0.0.1', 'shop.example.com'] });
    app.post<{ Params: { slug: string } }>('/publish/:slug', async (request) => {
      const direct = await newsLinks(request, request.params.slug);
      const task = await request.taskQueue.submit(newsLinks, request, request.params.slug);
      return { direct, task: task.id };
    });
  };
}

async function publishApp(
  queue: TaskQueue,
  options: FastifyServerOptions = {},
): Promise<{ url: string; port: number }> {
  return serve(cleanup, publishRoutes(queue), options);
}

async function directAndQueued(
  queue: TaskQueue,
  url: string,
  headers: Record<string, string> = {},
  path = '/publish/big-news',
): Promise<{ direct: unknown; queued: unknown }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers });
  expect(response.status).toBe(200);
  const { direct, task } = (await response.json()) as { direct: unknown; task: string };
  return { direct, queued: await queue.handle(task).result({ timeout: 10_000 }) };
}

describe('Fastify: a request as a task argument', () => {
  it('ignores X-Forwarded-Port from a proxy that trustProxy does not name', async () => {
    const { queue, name } = amqpQueue();
    await startWorker(queue, name);
    const otherProxy = await publishApp(queue, { trustProxy: '10.0.0.1' });
    const notThatOne = await directAndQueued(queue, otherProxy.url, {
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '8443',
    });
    expect(notThatOne.queued).toEqual({
      news: `http://127.0.0.1:${otherProxy.port}/news/big-news?ref=push`,
      home: `http://127.0.0.1:${otherProxy.port}/`,
    });
    expect(notThatOne.queued).toEqual(notThatOne.direct);
  });
});
