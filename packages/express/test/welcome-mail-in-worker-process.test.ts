import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQueue, silentLogger, type TaskQueue } from '@taskq/core';
import { entityCodec, databaseUnitOfWork, type TypeormRequestUnitOfWork, sqlResultStore } from '@taskq/typeorm';
import express, { type Express } from 'express';
import type { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestUnitOfWork, taskq, taskqErrors } from '../src/index.js';
import { registry, sendWelcomeMail, storyDataSource, User } from '../../../test-support/welcome-story/story.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { listen } from './support/http.js';
import { createSchema, dropSchema } from '../../../test-support/postgres.js';
import { deleteQueues, queueDepth, RABBIT_URL, uniqueQueue } from '../../../test-support/rabbit.js';
import { testAmqp } from '../../../test-support/taskq-amqp.js';
import { eventually, sleep } from '../../../test-support/wait.js';
import { WorkerChild } from '../../../test-support/welcome-story/worker-child.js';

// One worker process, one schema and one queue for this file; a fresh app and queue per test.
const queueName = uniqueQueue('express-welcome');
const outFile = join(tmpdir(), `taskq-express-welcome-${randomUUID()}.jsonl`);
let schema = '';
let dataSource: DataSource;
let worker: WorkerChild;

beforeAll(async () => {
  schema = await createSchema('express_welcome');
  dataSource = storyDataSource(schema, true);
  await dataSource.initialize();
  worker = new WorkerChild({ RABBIT_URL, QUEUE: queueName, PG_SCHEMA: schema }, outFile);
  await worker.ready;
});

afterAll(async () => {
  await worker?.stop();
  await dataSource?.destroy();
  await dropSchema(schema);
  await deleteQueues([queueName]);
  rmSync(outFile, { force: true });
});

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The essay's register view on Express, with a TypeORM transaction per request. */
async function registerApp(
  configure: (app: Express) => void = () => {},
): Promise<{ url: string; port: number; queue: TaskQueue }> {
  const queue = createQueue({
    registry,
    transport: testAmqp(),
    codecs: [entityCodec(dataSource, { entities: [User] })],
    store: sqlResultStore(dataSource),
    defaults: { queue: queueName },
  });
  cleanup.add(() => queue.close());
  const app = express();
  configure(app);
  app.use(express.json());
  app.use(
    taskq({
      queue,
      routes: { profile: '/users/:id' },
      unitOfWork: (q) => databaseUnitOfWork(dataSource, q, { logger: silentLogger }),
      logger: silentLogger,
    }),
  );
  const register = (typo: boolean) => async (req: express.Request, res: express.Response) => {
    const { manager } = requestUnitOfWork<TypeormRequestUnitOfWork>(req);
    const user = await manager.save(manager.create(User, { email: req.body.email, name: req.body.name }));
    const task = await req.taskQueue.submit(sendWelcomeMail, user, req);
    // @ts-expect-error the essay's bug, on purpose: `usr` is not defined
    res.status(201).json({ user: typo ? usr : user, task: task.id });
  };
  app.post('/register', register(false));
  app.post('/register-typo', register(true));
  app.use(taskqErrors());
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  return { ...server, queue };
}

async function register(
  url: string,
  path: string,
  email: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, name: email.split('@')[0] }),
  });
}

describe('Express + TypeORM + RabbitMQ: the register-user story with the worker in another process', () => {
  it('POST /register: the welcome mail runs once in the worker process, with the User re-loaded and a URL of the request’s scheme, host and port', async () => {
    const { url, port, queue } = await registerApp();
    const response = await register(url, '/register', 'ann@example.com');
    expect(response.status).toBe(201);
    const { user, task } = (await response.json()) as { user: { id: number }; task: string };
    // Committed before the response: the status row is there and says queued (or later).
    expect((await queue.status(task))?.state).toMatch(/queued|active|succeeded/);
    await eventually(
      () => worker.runs().some((run) => run.email === 'ann@example.com'),
      'the welcome mail to run in the worker',
    );
    await sleep(300);
    const runs = worker.runs().filter((run) => run.email === 'ann@example.com');
    expect(runs).toEqual([
      {
        pid: worker.pid,
        userId: user.id,
        email: 'ann@example.com',
        isEntity: true,
        url: `http://127.0.0.1:${port}/users/${user.id}`,
      },
    ]);
    expect(runs[0].pid).not.toBe(process.pid);
    await eventually(async () => (await queue.status(task))?.state === 'succeeded', 'the status to say succeeded');
    console.log(
      `[register] user ${user.id} committed, task ${task} ran ${runs.length}x in pid ${runs[0].pid} (web pid ${process.pid}), link ${runs[0].url}`,
    );
  });

  it('behind a trusted proxy (X-Forwarded-Proto: https) the mail links to https on the same host and port', async () => {
    const { url, port } = await registerApp((app) => app.set('trust proxy', 'loopback'));
    const response = await register(url, '/register', 'proxied@example.com', { 'x-forwarded-proto': 'https' });
    expect(response.status).toBe(201);
    const { user } = (await response.json()) as { user: { id: number } };
    await eventually(
      () => worker.runs().some((run) => run.email === 'proxied@example.com'),
      'the welcome mail to run in the worker',
    );
    expect(
      worker
        .runs()
        .filter((run) => run.email === 'proxied@example.com')
        .map((run) => run.url),
    ).toEqual([`https://127.0.0.1:${port}/users/${user.id}`]);
  });

  it('the `usr` typo after submit: 500, no user row, no outbox row, nothing published, the mail never goes out', async () => {
    const { url } = await registerApp();
    const response = await register(url, '/register-typo', 'typo@example.com');
    expect(response.status).toBe(500);
    const users = await dataSource.getRepository(User).countBy({ email: 'typo@example.com' });
    const outbox = Number((await dataSource.query(`SELECT COUNT(*) AS n FROM "${schema}"."taskq_outbox"`))[0].n);
    const depth = await queueDepth(queueName);
    await sleep(500);
    const runs = worker.runs().filter((run) => run.email === 'typo@example.com').length;
    console.log(
      `[usr typo] status ${response.status}, user rows ${users}, outbox rows ${outbox}, broker depth ${depth}, runs ${runs}`,
    );
    expect({ users, outbox, depth, runs }).toEqual({ users: 0, outbox: 0, depth: 0, runs: 0 });
  });
});
