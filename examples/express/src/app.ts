import type { TaskQueue } from '@taskq/core';
import { dashboard } from '@taskq/dashboard';
import { accepted, requestUnitOfWork, taskq, taskqErrors, taskStatusHandler } from '@taskq/express';
import { databaseUnitOfWork, type TypeormRequestUnitOfWork } from '@taskq/typeorm';
import express, { type NextFunction, type Request, type Response } from 'express';
import { DASHBOARD_PATH, localDeveloper, mail, push, reports, User } from '@taskq/example-story';
import type { DataSource } from 'typeorm';

/** The essay's views on Express. Every request that writes runs in a database transaction its tasks join. */
export function createApp(queue: TaskQueue, dataSource: DataSource): express.Express {
  const app = express();
  app.set('trust proxy', 'loopback'); // behind a local reverse proxy, links follow X-Forwarded-Proto/Host
  // The dashboard first: its pages and actions need neither the JSON parser nor a request unit of work.
  app.use(DASHBOARD_PATH, dashboard({ queue, authorize: localDeveloper }));
  app.use(express.json());
  app.use(
    taskq({
      queue,
      routes: { profile: '/users/:id', news: '/news/:slug' },
      // Reads need no database transaction (and on SQLite must not hold its single connection).
      unitOfWork: (q, req) => (req.method === 'GET' ? undefined : databaseUnitOfWork(dataSource, q)),
    }),
  );

  app.post('/register', async (req: Request, res: Response) => {
    const { manager } = requestUnitOfWork<TypeormRequestUnitOfWork>(req);
    const user = await manager.save(
      manager.create(User, { email: String(req.body.email), name: String(req.body.name ?? req.body.email) }),
    );
    const task = await req.taskQueue.submit(mail.sendWelcomeMail, user, req);
    res.status(201).json({ user, task: task.id });
  });

  // The essay's bug: an error after the submit. The user is not created and no welcome mail goes out.
  app.post('/register-broken', async (req: Request, res: Response) => {
    const { manager } = requestUnitOfWork<TypeormRequestUnitOfWork>(req);
    const user = await manager.save(
      manager.create(User, { email: String(req.body.email), name: String(req.body.name ?? req.body.email) }),
    );
    await req.taskQueue.submit(mail.sendWelcomeMail, user, req);
    // @ts-expect-error `usr` is the essay's typo; TypeScript catches this one, any runtime error after the submit acts the same
    res.status(201).json({ user: usr });
  });

  app.post('/publish', async (req: Request, res: Response) => {
    const task = await req.taskQueue.submit(
      push.sendPushMessage,
      req,
      String(req.body.deviceToken),
      String(req.body.slug),
    );
    res.json({ task: task.id });
  });

  app.post('/reports', async (req: Request, res: Response) => {
    accepted(
      res,
      await req.taskQueue.submit(
        reports.buildMonthlyReport,
        String(req.body.month ?? new Date().toISOString().slice(0, 7)),
      ),
      { retryAfter: 1 },
    );
  });

  app.get('/tasks/:id', taskStatusHandler(queue));
  app.get('/users/:id', async (req: Request, res: Response) => {
    const user = await dataSource.getRepository(User).findOneBy({ id: Number(req.params.id) });
    if (user) res.json(user);
    else res.status(404).json({ error: 'no such user' });
  });
  app.get('/news/:slug', (req: Request, res: Response) => {
    res.json({ slug: req.params.slug });
  });

  app.use(taskqErrors());
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error(`[web] request failed: ${error instanceof Error ? error.message : String(error)}`);
    res.status(500).json({ error: 'internal error' });
  });
  return app;
}
