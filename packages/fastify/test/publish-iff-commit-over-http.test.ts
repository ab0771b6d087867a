// Publish-iff-success over HTTP is in the HTTP contract suite (http-contract.test.ts); this is what only Fastify's
// hooks do.
import { Readable } from 'node:stream';
import { createWorker, silentLogger, TaskRegistry, type TaskQueue, type Transport } from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { faulty } from '../../../test-support/faulty-transport.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { eventually, sleep } from '../../../test-support/wait.js';

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

function setup(wrap: (transport: Transport) => Transport = (t) => t): {
  queue: TaskQueue;
  name: string;
  transport: Transport;
} {
  return testQueue(cleanup, 'fastify-iff', registry, { wrap });
}

async function drain(queue: TaskQueue, name: string): Promise<void> {
  const worker = createWorker({
    registry,
    transport: queue.transport,
    store: queue.store,
    queues: [name],
    logger: silentLogger,
  });
  await worker.start();
  await sleep(300);
  await worker.stop();
}

describe('Fastify: the request’s hooks settle its unit of work', () => {
  it('an error thrown after a hook and a reply.code(200) still drops the tasks (onError)', async () => {
    const { queue, name } = setup();
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue });
      app.post('/hook-throws', { preHandler: async () => {} }, async (request, reply) => {
        await request.taskQueue.submit(sendWelcomeMail, 'hook@example.com');
        reply.code(200);
        throw new Error('late');
      });
    });
    expect((await fetch(`${url}/hook-throws`, { method: 'POST' })).status).toBe(500);
    await drain(queue, name);
    expect(runs).toEqual([]);
  });

  it('the commit (publish confirmed by the broker) finishes before the client sees the reply: string and stream payloads', async () => {
    const { queue, transport } = setup((t) => faulty(t, { delayMs: 250 }));
    const confirmedAt = (transport as ReturnType<typeof faulty>).confirmedAt;
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue, statusRoute: true });
      app.post('/string', async (request, reply) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, 'string@example.com');
        return reply.code(202).header('location', `/tasks/${task.id}`).type('text/plain').send(task.id);
      });
      app.post('/stream', async (request, reply) => {
        const task = await request.taskQueue.submit(sendWelcomeMail, 'stream@example.com');
        return reply
          .code(202)
          .header('location', `/tasks/${task.id}`)
          .type('text/plain')
          .send(Readable.from(['task ', task.id]));
      });
    });
    for (const path of ['/string', '/stream']) {
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

  it('a hijacked reply (written to reply.raw, so no onSend) is settled in onResponse, after it went out', async () => {
    const { queue, name } = setup();
    let stateAtWrite = '';
    const { url } = await serve(cleanup, (app) => {
      app.register(taskqPlugin, { queue });
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
});
