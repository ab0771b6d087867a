import { createWorker, silentLogger, TaskRegistry, type TaskQueue, type Transport } from '@taskq/core';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { accepted, taskq, taskqErrors, taskStatusHandler } from '../src/index.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { faulty } from '../../../test-support/faulty-transport.js';
import { listen } from './support/http.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { gate, sleep } from '../../../test-support/wait.js';

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

/** A fresh queue on its own RabbitMQ queue, closed and deleted after the test. */
function setup(wrap: (transport: Transport) => Transport = (t) => t): { queue: TaskQueue; name: string; transport: Transport } {
  return testQueue(cleanup, 'express-iff', registry, { wrap });
}

async function serve(app: Express): Promise<string> {
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  return server.url;
}

/** Runs a worker on the queue for a moment: whatever was published would run now. */
async function drain(queue: TaskQueue, name: string): Promise<void> {
  const worker = createWorker({ registry, transport: queue.transport, store: queue.store, queues: [name], logger: silentLogger });
  await worker.start();
  await sleep(300);
  await worker.stop();
}

describe('Express: a request publishes its tasks if and only if it succeeds', () => {
  it("submit, then the essay's `usr` typo throws: 500, nothing published, the task never runs, its id stays unknown", async () => {
    const { queue, name } = setup();
    let submitted = '';
    const app = express();
    app.use(express.json());
    app.use(taskq({ queue, logger: silentLogger }));
    app.post('/register', async (req, res) => {
      const task = await req.taskQueue.submit(sendWelcomeMail, req.body.email);
      submitted = task.id;
      // @ts-expect-error the essay's bug, on purpose: `usr` is not defined
      res.json({ user: usr });
    });
    app.use(taskqErrors());
    const url = await serve(app);

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
    const app = express();
    app.use(express.json());
    app.use(taskq({ queue }));
    app.post('/register', async (req, res) => {
      const task = await req.taskQueue.submit(sendWelcomeMail, req.body.email);
      res.status(201).json({ task: task.id });
    });
    const url = await serve(app);
    const response = await fetch(`${url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bob@example.com' }) });
    expect(response.status).toBe(201);
    expect(await queueDepth(name)).toBe(1);
    await drain(queue, name);
    expect(runs).toEqual(['bob@example.com']);
  });

  it('a thrown error that an error handler turns into a 4xx still drops the tasks (taskqErrors); a plain 4xx or 5xx answer follows rollbackOn', async () => {
    const { queue, name } = setup();
    const app = express();
    app.use(taskq({ queue, rollbackOn: (status) => status >= 500 || status === 409 }));
    app.post('/thrown-400', async (req) => {
      await req.taskQueue.submit(sendWelcomeMail, 'thrown@example.com');
      throw Object.assign(new Error('invalid e-mail'), { status: 400 });
    });
    app.post('/answered-503', async (req, res) => {
      await req.taskQueue.submit(sendWelcomeMail, '503@example.com');
      res.status(503).json({ error: 'maintenance' });
    });
    app.post('/answered-409', async (req, res) => {
      await req.taskQueue.submit(sendWelcomeMail, '409@example.com');
      res.status(409).end();
    });
    app.post('/answered-404', async (req, res) => {
      await req.taskQueue.submit(sendWelcomeMail, '404@example.com');
      res.sendStatus(404);
    });
    app.use(taskqErrors());
    app.use((error: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(error.status ?? 500).json({ error: 'handled' });
    });
    const url = await serve(app);
    const statuses: number[] = [];
    for (const path of ['/thrown-400', '/answered-503', '/answered-409', '/answered-404']) statuses.push((await fetch(`${url}${path}`, { method: 'POST' })).status);
    expect(statuses).toEqual([400, 503, 409, 404]);
    await drain(queue, name);
    expect(runs).toEqual(['404@example.com']);
  });

  it('the commit (publish confirmed by the broker) finishes before the client sees the response: res.json, plain res.end and a streamed body', async () => {
    const { queue, transport } = setup((t) => faulty(t, { delayMs: 250 }));
    const confirmedAt = (transport as ReturnType<typeof faulty>).confirmedAt;
    const app = express();
    app.use(taskq({ queue }));
    app.post('/json', async (req, res) => {
      accepted(res, await req.taskQueue.submit(sendWelcomeMail, 'json@example.com'));
    });
    app.post('/end', async (req, res) => {
      const task = await req.taskQueue.submit(sendWelcomeMail, 'end@example.com');
      res.statusCode = 202;
      res.setHeader('location', `/tasks/${task.id}`);
      res.end(task.id);
    });
    app.post('/stream', async (req, res) => {
      const task = await req.taskQueue.submit(sendWelcomeMail, 'stream@example.com');
      res.writeHead(202, { 'content-type': 'text/plain', location: `/tasks/${task.id}` });
      res.write('task ');
      await sleep(10);
      res.end(task.id);
    });
    app.get('/tasks/:id', taskStatusHandler(queue));
    const url = await serve(app);

    for (const path of ['/json', '/end', '/stream']) {
      const before = confirmedAt.length;
      const response = await fetch(`${url}${path}`, { method: 'POST' });
      const headersAt = Date.now();
      expect(response.status).toBe(202);
      expect(confirmedAt.length).toBe(before + 1);
      expect(confirmedAt[before]).toBeLessThanOrEqual(headersAt);
      const location = response.headers.get('location') ?? '';
      await response.text();
      // The id the client holds is known at once: never a 404 from the status route.
      const status = await fetch(new URL(location, url));
      expect(status.status).toBe(200);
      expect(((await status.json()) as { state: string }).state).toBe('queued');
      console.log(`[${path}] confirmed ${headersAt - confirmedAt[before]} ms before the response headers arrived`);
    }
  });

  it('a commit that fails answers 500 instead, without the handler’s Location or Set-Cookie, and the task is not published', async () => {
    let refuse = true;
    const { queue, name } = setup((t) => faulty(t, { fail: () => (refuse ? new Error('broker said no') : undefined) }));
    const app = express();
    app.use(taskq({ queue, logger: silentLogger }));
    app.post('/reports', async (req, res) => {
      const task = await req.taskQueue.submit(sendWelcomeMail, 'fail@example.com');
      res.cookie('session', 'logged-in');
      accepted(res, task);
    });
    const url = await serve(app);
    const response = await fetch(`${url}/reports`, { method: 'POST' });
    expect(response.status).toBe(500);
    expect(response.headers.get('location')).toBeNull();
    expect(response.headers.get('set-cookie')).toBeNull();
    expect(await response.json()).toEqual({ error: { code: 'TASKQ_COMMIT_FAILED', message: expect.stringContaining('could not be committed') } });
    refuse = false;
    expect(await queueDepth(name)).toBe(0);
  });

  it('a client that goes away before the response drops the request’s tasks', async () => {
    const { queue, name } = setup();
    const submitted = gate();
    const release = gate();
    const app = express();
    app.use(taskq({ queue }));
    app.post('/slow', async (req, res) => {
      await req.taskQueue.submit(sendWelcomeMail, 'gone@example.com');
      submitted.open();
      await release.promise;
      res.json({ ok: true });
    });
    const url = await serve(app);
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
