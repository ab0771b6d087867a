import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQueue, silentLogger, type TaskQueue } from '@taskq/core';
import { entityCodec, databaseUnitOfWork, type TypeormRequestUnitOfWork, sqlResultStore } from '@taskq/typeorm';
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requestUnitOfWork, taskqPlugin } from '../src/index.js';
import { registry, sendWelcomeMail, storyDataSource, User } from '../../../test-support/welcome-story/story.js';
import { serve } from './support/app.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { createSchema, dropSchema } from '../../../test-support/postgres.js';
import { deleteQueues, queueDepth, RABBIT_URL, uniqueQueue } from '../../../test-support/rabbit.js';
import { testAmqp } from '../../../test-support/taskq-amqp.js';
import { eventually, sleep } from '../../../test-support/wait.js';
import { WorkerChild } from '../../../test-support/welcome-story/worker-child.js';

// One worker process, one schema and one queue for this file; a fresh app and queue per test.
const queueName = uniqueQueue('fastify-welcome');
const outFile = join(tmpdir(), `taskq-fastify-welcome-${randomUUID()}.jsonl`);
let schema = '';
let dataSource: DataSource;
let worker: WorkerChild;

beforeAll(async () => {
  schema = await createSchema('fastify_welcome');
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

type RegisterRequest = FastifyRequest<{ Body: { email: string; name: string } }>;

/** The essay's register view on Fastify, with a TypeORM transaction per request. */
async function registerApp(
  options: FastifyServerOptions = {},
): Promise<{ url: string; port: number; queue: TaskQueue }> {
  const queue = createQueue({
    registry,
    transport: testAmqp(),
    codecs: [entityCodec(dataSource, { entities: [User] })],
    store: sqlResultStore(dataSource),
    defaults: { queue: queueName },
  });
  cleanup.add(() => queue.close());
  const register = (typo: boolean) => async (request: RegisterRequest) => {
    const { manager } = requestUnitOfWork<TypeormRequestUnitOfWork>(request);
    const user = await manager.save(manager.create(User, { email: request.body.email, name: request.body.name }));
    const task = await request.taskQueue.submit(sendWelcomeMail, user, request);
    // @ts-expect-error the essay's bug, on purpose: `usr` is not defined
    return { user: typo ? usr : user, task: task.id };
  };
  const server = await serve(
    cleanup,
    async (app) => {
      await app.register(taskqPlugin, {
        queue,
        routes: { profile: '/users/:id' },
        unitOfWork: (q) => databaseUnitOfWork(dataSource, q, { logger: silentLogger }),
        logger: silentLogger,
      });
      app.post('/register', register(false));
      app.post('/register-typo', register(true));
    },
    options,
  );
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

describe('Fastify + TypeORM + RabbitMQ: the register-user story with the worker in another process', () => {
  it('POST /register: the welcome mail runs once in the worker process, with the User re-loaded and a URL of the request’s scheme, host and port', async () => {
    const { url, port, queue } = await registerApp();
    const response = await register(url, '/register', 'ann@example.com');
    expect(response.status).toBe(200);
    const { user, task } = (await response.json()) as { user: { id: number }; task: string };
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

  it('with trustProxy (X-Forwarded-Proto: https) the mail links to https on the same host and port', async () => {
    const { url, port } = await registerApp({ trustProxy: '127.0.0.1' });
    const response = await register(url, '/register', 'proxied@example.com', { 'x-forwarded-proto': 'https' });
    expect(response.status).toBe(200);
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
