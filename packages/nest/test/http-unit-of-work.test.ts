import { Body, Controller, Inject, type INestApplication, type MessageEvent, Param, Post, Sse } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { memoryResultStore, type TaskQueue, type TaskRequest } from '@taskq/core';
import { Accepted, getQueueToken, InjectQueue, RequestUrls, TaskqModule } from '@taskq/nest';
import { interval, map, type Observable } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, MailModule, MailTasks, type User } from './fixtures/mail.js';
import { TestBroker } from './support/broker.js';
import { eventually, sleep } from '../../../test-support/wait.js';

/** What the controller submitted last, so a test can ask about a task whose request failed. */
const submitted: string[] = [];

@Controller('users')
class UsersController {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @Inject(MailTasks) private readonly mail: MailTasks,
  ) {}

  /** The essay's register_user: submit, then fail (or not) after the submit. */
  @Post()
  @Accepted({ retryAfter: 1 })
  async register(@Body() body: { id: number; name: string; email: string; fail?: boolean }) {
    const user: User = { id: body.id, name: body.name, email: body.email };
    const task = await this.queue.submit(this.mail.sendWelcome, user);
    submitted.push(task.id);
    if (body.fail) throw new Error('saving the user failed after the submit');
    return task;
  }

  /** The request's URL helpers as a task argument, next to a direct call with the same helpers. */
  @Post(':id/activation')
  async activation(@Param('id') id: string, @RequestUrls() urls: TaskRequest) {
    const user: User = { id: Number(id), name: 'Ada', email: 'ada@example.com' };
    const direct = await this.mail.sendActivation(user, urls);
    const task = await this.queue.submit(this.mail.sendActivation, user, urls);
    return { direct, task: task.id };
  }

  /** An endless event stream: the interceptor must pass it through, not hold it for a commit that never comes. */
  @Sse('events')
  events(): Observable<MessageEvent> {
    return interval(20).pipe(map((n) => ({ data: { n } })));
  }
}

const platforms = {
  express: () => new ExpressAdapter(),
  fastify: () => new FastifyAdapter(),
};

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
  submitted.length = 0;
});

async function serve(
  platform: keyof typeof platforms,
): Promise<{ app: INestApplication; url: string; mailer: Mailer; queue: TaskQueue }> {
  const broker = new TestBroker();
  cleanup.push(() => broker.cleanup());
  const moduleRef = await Test.createTestingModule({
    imports: [
      TaskqModule.forRoot({
        transport: broker.transport(),
        store: memoryResultStore(),
        // One context both serves and runs tasks, one at a time: FIFO lets a later task prove an earlier one was never
        // published.
        worker: { concurrency: 1 },
        statusRoute: 'tasks',
        http: { routes: { activate: '/users/:id/activate' } },
      }),
      MailModule,
    ],
    controllers: [UsersController],
  }).compile();
  const app = moduleRef.createNestApplication(platforms[platform](), { logger: false });
  app.setGlobalPrefix('api');
  await app.listen(0, '127.0.0.1');
  cleanup.push(() => app.close());
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, mailer: app.get(Mailer), queue: app.get<TaskQueue>(getQueueToken()) };
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe.each(Object.keys(platforms) as (keyof typeof platforms)[])(
  'HTTP on the %s platform, tasks on RabbitMQ',
  (platform) => {
    it('answers 202 with the status route in Location; the status route knows the task at once; it runs once', async () => {
      const { url, mailer } = await serve(platform);
      const response = await post(`${url}/api/users`, { id: 1, name: 'Ada', email: 'ada@example.com' });
      expect(response.status).toBe(202);
      const { task } = (await response.json()) as { task: string };
      expect(response.headers.get('location')).toBe(`${url}/api/tasks/${task}`);
      expect(response.headers.get('retry-after')).toBe('1');

      // The response was held until the commit: the status route never answers "unknown" for this id.
      const first = await fetch(response.headers.get('location') as string);
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('no-store');
      expect(['queued', 'active', 'succeeded']).toContain(((await first.json()) as { state: string }).state);

      await eventually(
        async () =>
          ((await (await fetch(`${url}/api/tasks/${task}`)).json()) as { state: string }).state === 'succeeded',
        'the task to succeed',
      );
      const final = (await (await fetch(`${url}/api/tasks/${task}`)).json()) as {
        state: string;
        result: string;
        attempts: number;
      };
      expect(final).toMatchObject({
        state: 'succeeded',
        attempts: 1,
        result: 'web@example.com -> ada@example.com: Welcome, Ada!',
      });
      await sleep(200);
      expect(mailer.sent).toEqual(['web@example.com -> ada@example.com: Welcome, Ada!']);
    });

    it('drops the task when the handler throws after the submit: it never runs, and its id stays unknown', async () => {
      const { url, mailer } = await serve(platform);
      const failed = await post(`${url}/api/users`, { id: 2, name: 'Bob', email: 'bob@example.com', fail: true });
      expect(failed.status).toBe(500);
      const droppedId = submitted[0];
      const ok = await post(`${url}/api/users`, { id: 3, name: 'Cy', email: 'cy@example.com' });
      expect(ok.status).toBe(202);
      const { task } = (await ok.json()) as { task: string };
      // One FIFO queue, one task at a time: once the later task ran, the earlier one would have run first had it been
      // published.
      await eventually(
        async () =>
          ((await (await fetch(`${url}/api/tasks/${task}`)).json()) as { state: string }).state === 'succeeded',
        'the later task to succeed',
      );
      expect(mailer.sent).toEqual(['web@example.com -> cy@example.com: Welcome, Cy!']);
      expect((await fetch(`${url}/api/tasks/${droppedId}`)).status).toBe(404);
      console.log(
        `[${platform}] submitted ${submitted.length}, ran ${mailer.sent.length}, dropped ${droppedId.slice(-8)} (404)`,
      );
    });

    it('answers 404 for unknown and malformed task ids', async () => {
      const { url } = await serve(platform);
      const unknown = await fetch(`${url}/api/tasks/00000000-0000-7000-8000-000000000000`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toEqual({ error: { code: 'TASKQ_UNKNOWN_TASK', message: 'no task with this id' } });
      expect((await fetch(`${url}/api/tasks/not-a-uuid`)).status).toBe(404);
    });

    it('streams server-sent events as they come (no unit of work around an endless stream)', async () => {
      const { url } = await serve(platform);
      const controller = new AbortController();
      const response = await fetch(`${url}/api/users/events`, { signal: controller.signal });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('data: {"n":0}')) text += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      expect(text).toContain('data: {"n":0}');
    });

    it('passes the request to a task as its URL context: the worker builds the same links as the handler', async () => {
      const { url, queue } = await serve(platform);
      const response = await post(`${url}/api/users/7/activation`, {});
      expect(response.status).toBe(201);
      const { direct, task } = (await response.json()) as { direct: string; task: string };
      expect(direct).toBe(
        `web@example.com -> ada@example.com: Activate at ${url}/api/users/7/activate?via=mail (home ${url}/api/)`,
      );
      expect(await queue.handle(task).result({ timeout: 10_000 })).toBe(direct);
    });
  },
);
