import type { TaskQueue } from '@taskq/core';
import { taskqDashboard } from '@taskq/dashboard/fastify';
import { accepted, requestUnitOfWork, taskqPlugin } from '@taskq/fastify';
import { databaseUnitOfWork, type TypeormRequestUnitOfWork } from '@taskq/typeorm';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { DASHBOARD_PATH, localDeveloper, mail, push, reports, User } from '@taskq/example-story';
import type { DataSource } from 'typeorm';

type Body<T> = FastifyRequest<{ Body: T }>;
type Registration = Body<{ email: string; name?: string }>;

/** The essay's views on Fastify. Every request that writes runs in a database transaction its tasks join. */
export async function createApp(queue: TaskQueue, dataSource: DataSource): Promise<FastifyInstance> {
  // Behind a local reverse proxy, links follow X-Forwarded-Proto/Host.
  const app = Fastify({ trustProxy: 'loopback' });
  await app.register(taskqPlugin, {
    queue,
    routes: { profile: '/users/:id', news: '/news/:slug' },
    // Reads need no database transaction (and on SQLite must not hold its single connection).
    unitOfWork: (q, request) => (request.method === 'GET' ? undefined : databaseUnitOfWork(dataSource, q)),
    // The queue stays open on app.close() (closeQueue defaults to false): start.ts closes it after the worker and the
    // relay.
    statusRoute: '/tasks/:id',
  });

  await app.register(taskqDashboard, { prefix: DASHBOARD_PATH, queue, authorize: localDeveloper });

  const saveUser = async (request: Registration): Promise<User> => {
    const { manager } = requestUnitOfWork<TypeormRequestUnitOfWork>(request);
    return manager.save(
      manager.create(User, {
        email: String(request.body.email),
        name: String(request.body.name ?? request.body.email),
      }),
    );
  };

  app.post('/register', async (request: Registration, reply) => {
    const user = await saveUser(request);
    const task = await request.taskQueue.submit(mail.sendWelcomeMail, user, request);
    return reply.code(201).send({ user, task: task.id });
  });

  // The essay's bug: an error after the submit. The user is not created and no welcome mail goes out.
  app.post('/register-broken', async (request: Registration) => {
    const user = await saveUser(request);
    await request.taskQueue.submit(mail.sendWelcomeMail, user, request);
    // @ts-expect-error `usr` is the essay's typo; TypeScript catches this one, any runtime error after the submit acts the same
    return { user: usr };
  });

  app.post('/publish', async (request: Body<{ deviceToken: string; slug: string }>) => {
    const task = await request.taskQueue.submit(
      push.sendPushMessage,
      request,
      String(request.body.deviceToken),
      String(request.body.slug),
    );
    return { task: task.id };
  });

  app.post('/reports', async (request: Body<{ month?: string }>, reply) => {
    const month = String(request.body?.month ?? new Date().toISOString().slice(0, 7));
    return accepted(reply, await request.taskQueue.submit(reports.buildMonthlyReport, month), { retryAfter: 1 });
  });

  app.get('/users/:id', async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
    const user = await dataSource.getRepository(User).findOneBy({ id: Number(request.params.id) });
    return user ?? reply.code(404).send({ error: 'no such user' });
  });
  app.get('/news/:slug', async (request: FastifyRequest<{ Params: { slug: string } }>) => ({
    slug: request.params.slug,
  }));
  return app;
}
