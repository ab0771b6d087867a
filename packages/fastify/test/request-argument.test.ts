import { request as httpRequest } from 'node:http';
import { createQueue, createWorker, memoryResultStore, silentLogger, TaskRegistry, type TaskQueue, type UrlHelpers } from '@taskq/core';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { deleteQueues, takeRawMessage, uniqueQueue } from '../../../test-support/rabbit.js';
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
  const worker = createWorker({ registry, transport: queue.transport, store: queue.store, queues: [name], logger: silentLogger });
  await worker.start();
  cleanup.add(() => worker.stop());
}

/** The handler calls the task directly with the live request and submits it with the same request. */
function publishRoutes(queue: TaskQueue) {
  return async (app: FastifyInstance): Promise<void> => {
    // The test's own address and the public host a proxy forwards.
    await app.register(taskqPlugin, { queue, routes, closeQueue: false, allowedHosts: ['127.0.0.1', 'shop.example.com'] });
    app.post<{ Params: { slug: string } }>('/publish/:slug', async (request) => {
      const direct = await newsLinks(request, request.params.slug);
      const task = await request.taskQueue.submit(newsLinks, request, request.params.slug);
      return { direct, task: task.id };
    });
  };
}

async function publishApp(queue: TaskQueue, options: FastifyServerOptions = {}): Promise<{ url: string; port: number }> {
  return serve(cleanup, publishRoutes(queue), options);
}

async function directAndQueued(queue: TaskQueue, url: string, headers: Record<string, string> = {}, path = '/publish/big-news'): Promise<{ direct: unknown; queued: unknown }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers });
  expect(response.status).toBe(200);
  const { direct, task } = (await response.json()) as { direct: unknown; task: string };
  return { direct, queued: await queue.handle(task).result({ timeout: 10_000 }) };
}

describe('Fastify: a request as a task argument', () => {
  it('travels as its URL context only: no cookie, Authorization header or body in the raw message', async () => {
    const { queue, name } = amqpQueue();
    const { url, port } = await serve(cleanup, async (app) => {
      await app.register(taskqPlugin, { queue, routes, closeQueue: false });
      app.post<{ Body: { slug: string } }>('/publish', async (request) => ({ task: (await request.taskQueue.submit(newsLinks, request, request.body.slug)).id }));
    });
    const response = await fetch(`${url}/publish`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: 'session=s3cr3t-session',
        authorization: 'Bearer s3cr3t-token',
        'accept-language': 'de-CH',
        'user-agent': 'request-argument-test',
        'x-api-key': 's3cr3t-key',
      },
      body: JSON.stringify({ slug: 'launch', password: 's3cr3t-password' }),
    });
    expect(response.status).toBe(200);
    const raw = await takeRawMessage(name);
    expect(raw).toBeDefined();
    expect(raw).not.toMatch(/s3cr3t|cookie|authorization|password|x-api-key|socket/i);
    const envelope = JSON.parse(raw ?? '{}') as { args: unknown[] };
    expect(envelope.args[0]).toEqual({
      $t: 'taskq.request',
      v: { protocol: 'http', host: '127.0.0.1', port, basePath: '', routes, headers: { 'accept-language': 'de-CH', 'user-agent': 'request-argument-test' } },
    });
    expect(envelope.args[1]).toBe('launch');
    console.log(`[raw message] ${raw?.length} bytes; request argument = ${JSON.stringify(envelope.args[0])}`);
  });

  it('gives the same URLs called directly with the live request and run in a worker', async () => {
    const { queue, name } = amqpQueue();
    await startWorker(queue, name);
    const { url, port } = await publishApp(queue);
    const { direct, queued } = await directAndQueued(queue, url);
    expect(direct).toEqual({ news: `http://127.0.0.1:${port}/news/big-news?ref=push`, home: `http://127.0.0.1:${port}/` });
    expect(queued).toEqual(direct);
  });

  it('with trustProxy takes scheme, host and port from X-Forwarded-*; without it, ignores them', async () => {
    const { queue, name } = amqpQueue();
    await startWorker(queue, name);
    const trusted = await publishApp(queue, { trustProxy: '127.0.0.1' });
    const viaProxy = await directAndQueued(queue, trusted.url, { 'x-forwarded-proto': 'https' });
    expect(viaProxy.direct).toEqual({ news: `https://127.0.0.1:${trusted.port}/news/big-news?ref=push`, home: `https://127.0.0.1:${trusted.port}/` });
    expect(viaProxy.queued).toEqual(viaProxy.direct);

    const publicHost = await directAndQueued(queue, trusted.url, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example.com' });
    expect(publicHost.queued).toEqual({ news: 'https://shop.example.com/news/big-news?ref=push', home: 'https://shop.example.com/' });
    expect(publicHost.queued).toEqual(publicHost.direct);

    const withPort = await directAndQueued(queue, trusted.url, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example.com', 'x-forwarded-port': '8443' });
    expect(withPort.queued).toEqual({ news: 'https://shop.example.com:8443/news/big-news?ref=push', home: 'https://shop.example.com:8443/' });

    const untrusted = await publishApp(queue);
    const spoofed = await directAndQueued(queue, untrusted.url, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '1' });
    expect(spoofed.queued).toEqual({ news: `http://127.0.0.1:${untrusted.port}/news/big-news?ref=push`, home: `http://127.0.0.1:${untrusted.port}/` });
    expect(spoofed.queued).toEqual(spoofed.direct);

    const otherProxy = await publishApp(queue, { trustProxy: '10.0.0.1' });
    const notThatOne = await directAndQueued(queue, otherProxy.url, { 'x-forwarded-proto': 'https', 'x-forwarded-port': '8443' });
    expect(notThatOne.queued).toEqual({ news: `http://127.0.0.1:${otherProxy.port}/news/big-news?ref=push`, home: `http://127.0.0.1:${otherProxy.port}/` });
  });

  it('keeps the prefix of the context the plugin is registered in', async () => {
    const { queue, name } = amqpQueue();
    await startWorker(queue, name);
    const { url, port } = await serve(cleanup, (app) => {
      app.register(publishRoutes(queue), { prefix: '/api' });
    });
    const { direct, queued } = await directAndQueued(queue, url, {}, '/api/publish/big-news');
    expect(direct).toEqual({ news: `http://127.0.0.1:${port}/api/news/big-news?ref=push`, home: `http://127.0.0.1:${port}/api/` });
    expect(queued).toEqual(direct);
  });

  it('answers 400 when the Host header cannot make a URL, instead of queueing a task the worker would refuse', async () => {
    const { queue } = amqpQueue();
    const { port } = await publishApp(queue);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/publish/x', headers: { host: 'evil.example/<script>' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });
});
