import { errorCode, TaskRegistry, type TaskQueue } from '@taskq/core';
import { request as httpRequest } from 'node:http';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { taskqPlugin, type TaskqPluginOptions } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { faulty } from '../../../test-support/faulty-transport.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { eventually, gate } from '../../../test-support/wait.js';

async function notify(who: string): Promise<void> {
  void who;
}
const registry = new TaskRegistry().add('notify', notify);

/** POST without keep-alive. */
function post(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function setup(delayMs = 0): { queue: TaskQueue; name: string } {
  const { queue, name } = testQueue(cleanup, 'fastify-plugin', registry, {
    wrap: (transport) => faulty(transport, { delayMs }),
  });
  return { queue, name };
}

describe('Fastify: registering taskqPlugin', () => {
  it('is a fastify-plugin named @taskq/fastify for Fastify 5', () => {
    const meta = (taskqPlugin as unknown as Record<symbol, { name: string; fastify: string }>)[
      Symbol.for('plugin-meta')
    ];
    expect(meta).toMatchObject({ name: '@taskq/fastify', fastify: '5.x' });
  });

  it('refuses a second registration in the same context, with a taskq error code', async () => {
    const { queue } = setup();
    const app = Fastify();
    cleanup.add(() => app.close());
    app.register(taskqPlugin, { queue, closeQueue: false });
    app.register(taskqPlugin, { queue, closeQueue: false });
    const error = await app.ready().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(errorCode(error)).toBe('TASKQ_FASTIFY_ALREADY_REGISTERED');
  });

  it('validates options at registration, naming the option', async () => {
    const { queue } = setup();
    const bad: Array<[unknown, string]> = [
      [{}, 'queue'],
      [{ queue, routes: { news: 'news' } }, 'routes.news'],
      [{ queue, rollbackOn: 'x' }, 'rollbackOn'],
      [{ queue, statusRoute: '/tasks' }, 'statusRoute.path'],
      [{ queue, closeQueue: 'yes' }, 'closeQueue'],
    ];
    for (const [options, option] of bad) {
      const app = Fastify();
      app.register(taskqPlugin, options as TaskqPluginOptions);
      const error = await app.ready().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'TASKQ_INVALID_OPTION', option });
      await app.close();
    }
  });

  it('decorates the instance and every request, and encapsulated routes (under a prefix) see both', async () => {
    const { queue, name } = setup();
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, routes: { item: '/items/:id' } });
      app.register(
        async (child) => {
          child.register(async (grandchild) => {
            grandchild.post('/deep', async (request) => {
              const task = await request.taskQueue.submit(notify, 'deep');
              return { same: grandchild.taskQueue === queue, task: task.id, url: request.routeUrl('item', { id: 7 }) };
            });
          });
        },
        { prefix: '/v1' },
      );
    });
    const response = await fetch(`${url}/v1/deep`, { method: 'POST' });
    const body = (await response.json()) as { same: boolean; task: string; url: string };
    expect(body.same).toBe(true);
    expect(body.task).toMatch(/^[0-9a-f-]{36}$/);
    // Routes are named relative to where the plugin is registered (the root here), not the child's prefix.
    expect(body.url).toBe(`${url}/items/7`);
    expect(await queueDepth(name)).toBe(1);
  });

  it('registered inside a prefixed context, builds URLs under that prefix; sibling contexts may each have their own', async () => {
    const first = setup();
    const second = setup();
    const { url } = await serve(cleanup, (app) => {
      app.register(
        async (api) => {
          api.register(taskqPlugin, { queue: first.queue, routes: { item: '/items/:id' } });
          api.get('/where', async (request) => ({
            url: request.routeUrl('item', { id: 1 }),
            mine: request.server.taskQueue === first.queue,
          }));
        },
        { prefix: '/api' },
      );
      app.register(
        async (admin) => {
          admin.register(taskqPlugin, { queue: second.queue });
          admin.get('/where', async (request) => ({ mine: request.server.taskQueue === second.queue }));
        },
        { prefix: '/admin' },
      );
    });
    expect(await (await fetch(`${url}/api/where`)).json()).toEqual({ url: `${url}/api/items/1`, mine: true });
    expect(await (await fetch(`${url}/admin/where`)).json()).toEqual({ mine: true });
  });

  it('fastify.close() lets an in-flight request commit and publish, then closes the queue when closeQueue is true', async () => {
    const { queue, name } = setup(200);
    const inHandler = gate();
    const release = gate();
    const { app, url } = await serve(
      cleanup,
      (fastify) => {
        fastify.register(taskqPlugin, { queue, closeQueue: true });
        fastify.post('/slow', async (request) => {
          const task = await request.taskQueue.submit(notify, 'in flight');
          inHandler.open();
          await release.promise;
          return { task: task.id };
        });
      },
      { forceCloseConnections: 'idle' },
    );
    // Connection: close, as a load balancer draining this instance would: a kept-alive socket would hold close() for
    // keepAliveTimeout.
    const response = post(`${url}/slow`);
    await inHandler.promise;
    const closed = app.close();
    release.open();
    const answered = await response;
    expect(answered.status).toBe(200);
    const { task } = JSON.parse(answered.body) as { task: string };
    await closed;
    expect(await queueDepth(name)).toBe(1);
    expect((await queue.status(task))?.state).toBe('queued');
    await eventually(
      async () => errorCode(await queue.submit(notify, 'after close').catch((e: unknown) => e)) === 'TASKQ_CLOSED',
      'the queue to be closed',
    );
  });

  it('leaves a queue it was given open on fastify.close() unless asked (closeQueue defaults to false, as closeClient in @fastify/redis)', async () => {
    for (const options of [{}, { closeQueue: false }] as const) {
      const { queue } = setup();
      const app = Fastify();
      app.register(taskqPlugin, { queue, ...options });
      await app.ready();
      await app.close();
      await expect(queue.submit(notify, 'still open')).resolves.toMatchObject({ name: 'notify' });
    }
  });
});
