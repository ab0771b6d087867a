import { TaskRegistry } from '@taskq/core';
import { currentUnitOfWork } from '@taskq/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';

async function notify(who: string): Promise<void> {
  void who;
}
const registry = new TaskRegistry().add('notify', notify);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const setup = () => testQueue(cleanup, 'fastify-context', registry);

// Resumes hooks from a timer started at import, outside any request: the request's async context is gone there.
const parked: Array<() => void> = [];
const pump = setInterval(() => {
  for (const resume of parked.splice(0)) resume();
}, 5);
pump.unref();

describe('Fastify: the request’s unit of work reaches hooks and the handler', () => {
  it('after JSON body parsing, in async preHandler hooks and encapsulated routes, so even fastify.taskQueue.submit joins it', async () => {
    for (const outcome of ['throw', 'succeed'] as const) {
      const { queue, name } = setup();
      const seen: string[] = [];
      const { url } = await serve(cleanup, async (app) => {
        await app.register(taskqPlugin, { queue });
        app.register(
          async (child) => {
            child.addHook('preHandler', async (request) => {
              await new Promise((resolve) => setTimeout(resolve, 2));
              seen.push(currentUnitOfWork() === request.taskQueue.uow ? 'preHandler: in' : 'preHandler: lost');
            });
            child.post<{ Body: { who: string } }>('/nested', async (request) => {
              await new Promise((resolve) => setTimeout(resolve, 5));
              seen.push(currentUnitOfWork() === request.taskQueue.uow ? 'handler: in' : 'handler: lost');
              await child.taskQueue.submit(notify, request.body.who);
              if (outcome === 'throw') throw new Error('after submit');
              return { ok: true };
            });
          },
          { prefix: '/deep' },
        );
      });
      const response = await fetch(`${url}/deep/nested`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ who: 'ann' }),
      });
      expect(response.status).toBe(outcome === 'throw' ? 500 : 200);
      expect(seen).toEqual(['preHandler: in', 'handler: in']);
      expect(await queueDepth(name)).toBe(outcome === 'throw' ? 0 : 1);
    }
  });

  it('is restored for the handler after a preParsing hook resumed outside it', async () => {
    const { queue } = setup();
    let contextSeen: unknown = 'not run';
    let inHook: unknown = 'not run';
    const { url } = await serve(cleanup, async (app) => {
      await app.register(taskqPlugin, { queue });
      app.post(
        '/parsed',
        {
          preParsing: (_request, _reply, payload, done) => {
            parked.push(() => {
              inHook = currentUnitOfWork();
              done(null, payload);
            });
          },
        },
        async (request) => {
          contextSeen = currentUnitOfWork() === request.taskQueue.uow;
          return { ok: true };
        },
      );
    });
    expect(
      (await fetch(`${url}/parsed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }))
        .status,
    ).toBe(200);
    expect(inHook).toBeUndefined();
    expect(contextSeen).toBe(true);
  });

  it('request.taskQueue stays bound to the request where a hook lost the async context', async () => {
    const { queue, name } = setup();
    let contextSeen: unknown = 'not run';
    const { url } = await serve(cleanup, async (app) => {
      await app.register(taskqPlugin, { queue });
      app.post(
        '/lost',
        {
          preHandler: [
            async () => {},
            (_request, _reply, done) => {
              parked.push(() => done());
            },
          ],
        },
        async (request) => {
          contextSeen = currentUnitOfWork();
          await request.taskQueue.submit(notify, 'bob');
          throw new Error('after submit');
        },
      );
    });
    expect((await fetch(`${url}/lost`, { method: 'POST' })).status).toBe(500);
    expect(contextSeen).toBeUndefined(); // the context really was lost...
    expect(await queueDepth(name)).toBe(0); // ...and the request's task was still dropped
  });
});
