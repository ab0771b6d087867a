import { Readable } from 'node:stream';
import { createWorker, silentLogger, TaskRegistry, type TaskQueue, type Transport } from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { accepted, taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { faulty } from '../../../test-support/faulty-transport.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { eventually, gate, sleep } from '../../../test-support/wait.js';

const runs: string[] = [];
async function sendWelcomeMail(email: string): Promise<string> {
  runs.push(email);
  return `welcome ${email}`;
}
const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);

const cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  runs.length = 0;
});

function setup(wrap: (transport: Transport) => Transport = (t) => t): { queue: TaskQueue; name: string; transport: Transport } {
  return testQueue(cleanup, 'fastify-iff', registry, { wrap });
}

async function drain(queue: TaskQueue, name: string): Promise<void> {
  const worker = createWorker({ registry, transport: queue.transport, store: queue.store, queues: [name], logger: silentLogger });
  await worker.start();
  await sleep(300);
  await worker.stop();
}

describe('Fastify: a request publishes its tasks if and only if it succeeds', () => {
  it("submit, then the essay's `usr` typo throws: 500, nothing published, the task never runs, its id stays unknown", async () => {
    const { queue, name } = setup();
    let submitted = '';
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false, logger: silentLogger });
      app.post<{ Body: { email: string } }>('/register', async (request) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, request.body.email);
        submitted = task.id;
        // @ts-expect-error the essay's bug, on purpose: `usr` is not defined
        return { user: usr };
      });
    });
    const response = await fetch(`${url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ann@example.com' }) });
    expect(response.status).toBe(500);
    expect(submitted).toMatch(/^[0-9a-f-]{36}$/);
    expect(await queueDepth(name)).toBe(0);
    expect(await queue.status(submitted)).toBeNull();
    await drain(queue, name);
    expect(runs).toEqual([]);
    console.log(`[usr typo] status 500, submitted 1, published ${await queueDepth(name)}, ran ${runs.length}`);
  });

  it('the same handler without the typo: committed, published once, runs once', async () => {
    const { queue, name } = setup();
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false });
      app.post<{ Body: { email: string } }>('/register', async (request, reply) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, request.body.email);
        return reply.code(201).send({ task: task.id });
      });
    });
    const response = await fetch(`${url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bob@example.com' }) });
    expect(response.status).toBe(201);
    expect(await queueDepth(name)).toBe(1);
    await drain(queue, name);
    expect(runs).toEqual(['bob@example.com']);
  });

  it('an error turned into a 4xx by the error handler still drops the tasks; a plain answer follows rollbackOn', async () => {
    const { queue, name } = setup();
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false, rollbackOn: (status) => status >= 500 || status === 409 });
      app.setErrorHandler((error: { statusCode?: number }, _request, reply) => reply.code(error.statusCode ?? 500).send({ error: 'handled' }));
      app.post('/thrown-400', async (request) => {
        await request.taskQueue.submit(sendWelcomeMail, 'thrown@example.com');
        throw Object.assign(new Error('invalid e-mail'), { statusCode: 400 });
      });
      app.post('/hook-throws', { preHandler: async () => {} }, async (request, reply) => {
        await request.taskQueue.submit(sendWelcomeMail, 'hook@example.com');
        reply.code(200);
        throw new Error('late');
      });
      app.post('/answered-503', async (request, reply) => {
        await request.taskQueue.submit(sendWelcomeMail, '503@example.com');
        return reply.code(503).send({ error: 'maintenance' });
      });
      app.post('/answered-409', async (request, reply) => {
        await request.taskQueue.submit(sendWelcomeMail, '409@example.com');
        return reply.code(409).send();
      });
      app.post('/answered-404', async (request, reply) => {
        await request.taskQueue.submit(sendWelcomeMail, '404@example.com');
        return reply.code(404).send({ error: 'not found' });
      });
    });
    const statuses: number[] = [];
    for (const path of ['/thrown-400', '/hook-throws', '/answered-503', '/answered-409', '/answered-404']) statuses.push((await fetch(`${url}${path}`, { method: 'POST' })).status);
    expect(statuses).toEqual([400, 500, 503, 409, 404]);
    await drain(queue, name);
    expect(runs).toEqual(['404@example.com']);
  });

  it('the commit (publish confirmed by the broker) finishes before the client sees the reply: object, string and stream payloads', async () => {
    const { queue, transport } = setup((t) => faulty(t, { delayMs: 250 }));
    const confirmedAt = (transport as ReturnType<typeof faulty>).confirmedAt;
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false, statusRoute: true });
      app.post('/object', async (request, reply) => accepted(reply, await request.taskQueue.submit(sendWelcomeMail, 'object@example.com')));
      app.post('/string', async (request, reply) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, 'string@example.com');
        return reply.code(202).header('location', `/tasks/${task.id}`).type('text/plain').send(task.id);
      });
      app.post('/stream', async (request, reply) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, 'stream@example.com');
        return reply.code(202).header('location', `/tasks/${task.id}`).type('text/plain').send(Readable.from(['task ', task.id]));
      });
    });
    for (const path of ['/object', '/string', '/stream']) {
      const before = confirmedAt.length;
      const response = await fetch(`${url}${path}`, { method: 'POST' });
      const headersAt = Date.now();
      expect(response.status).toBe(202);
      expect(confirmedAt.length).toBe(before + 1);
      expect(confirmedAt[before]).toBeLessThanOrEqual(headersAt);
      const location = response.headers.get('location') ?? '';
      await response.text();
      const status = await fetch(new URL(location, url));
      expect(status.status).toBe(200);
      expect(((await status.json()) as { state: string }).state).toBe('queued');
      console.log(`[${path}] confirmed ${headersAt - confirmedAt[before]} ms before the response headers arrived`);
    }
  });

  it('a commit that fails answers 500 instead, without the handler’s Location or Set-Cookie, and the task is not published', async () => {
    const { queue, name } = setup((t) => faulty(t, { fail: () => new Error('broker said no') }));
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false, logger: silentLogger });
      app.post('/reports', async (request, reply) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, 'fail@example.com');
        reply.header('set-cookie', 'session=logged-in');
        return accepted(reply, task);
      });
    });
    const response = await fetch(`${url}/reports`, { method: 'POST' });
    expect(response.status).toBe(500);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.json()).toEqual({ error: { code: 'TASKQ_COMMIT_FAILED', message: expect.stringContaining('could not be committed') } });
    expect(await queueDepth(name)).toBe(0);
  });

  it('a hijacked reply (written to reply.raw, so no onSend) is settled in onResponse, after it went out', async () => {
    const { queue, name } = setup();
    let stateAtWrite = '';
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false });
      app.post('/raw', async (request, reply) => {
        await request.taskQueue.submit(sendWelcomeMail, 'raw@example.com');
        reply.hijack();
        stateAtWrite = request.taskQueue.uow.state;
        reply.raw.writeHead(200, { 'content-type': 'text/plain' });
        reply.raw.end('written by hand');
      });
    });
    const response = await fetch(`${url}/raw`, { method: 'POST' });
    expect(await response.text()).toBe('written by hand');
    expect(stateAtWrite).toBe('open');
    await eventually(async () => (await queueDepth(name)) === 1, 'the hijacked request’s task to be published');
  });

  it('a client that goes away before the reply drops the request’s tasks', async () => {
    const { queue, name } = setup();
    const submitted = gate();
    const release = gate();
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, closeQueue: false });
      app.post('/slow', async (request) => {
        await request.taskQueue.submit(sendWelcomeMail, 'gone@example.com');
        submitted.open();
        await release.promise;
        return { ok: true };
      });
    });
    const abort = new AbortController();
    const request = fetch(`${url}/slow`, { method: 'POST', signal: abort.signal }).catch((error: unknown) => error);
    await submitted.promise;
    abort.abort();
    await request;
    await sleep(50);
    release.open();
    await sleep(100);
    expect(await queueDepth(name)).toBe(0);
    await drain(queue, name);
    expect(runs).toEqual([]);
  });
});
