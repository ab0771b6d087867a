import { errorCode, silentLogger, TaskRegistry, type TaskQueue, type UnitOfWork } from '@taskq/core';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { requestUnitOfWork, type TaskqOptions, taskq, taskqErrors } from '../src/index.js';
import type { RequestUnitOfWork } from '@taskq/http';
import { Cleanup } from '../../../test-support/cleanup.js';
import { listen } from './support/http.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { sleep } from '../../../test-support/wait.js';

async function notify(who: string): Promise<void> {
  void who;
}
const registry = new TaskRegistry().add('notify', notify);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const setup = () => testQueue(cleanup, 'express-contract', registry);

async function serve(app: Express): Promise<string> {
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  return server.url;
}

/** Error handler that answers the error's code, so tests can see which taskq error happened. */
function answerCode(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  res.status(500).json({ code: errorCode(error) ?? 'none' });
}

describe('Express: taskq() contract', () => {
  it('validates options once, naming the option', () => {
    const { queue } = setup();
    const bad: Array<[unknown, string]> = [
      [{}, 'queue'],
      [{ queue, routes: { news: 'news/:slug' } }, 'routes.news'],
      [{ queue, routes: ['/x'] }, 'routes'],
      [{ queue, rollbackOn: 500 }, 'rollbackOn'],
      [{ queue, unitOfWork: {} }, 'unitOfWork'],
      [{ queue, basePath: 'api' }, 'basePath'],
    ];
    for (const [options, option] of bad) {
      expect(() => taskq(options as TaskqOptions)).toThrowError(
        expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option }),
      );
    }
    expect(taskq({ queue }).name).toBe('taskq');
    expect(taskqErrors().name).toBe('taskqErrors');
  });

  it('refuses to run twice for one request', async () => {
    const { queue } = setup();
    const app = express();
    app.use(taskq({ queue }));
    app.use(taskq({ queue }));
    app.get('/', (_req, res) => res.end());
    app.use(answerCode);
    const response = await fetch(await serve(app));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ code: 'TASKQ_EXPRESS_MOUNTED_TWICE' });
  });

  it('req.taskQueue refuses use() and close(), and submits after the response started', async () => {
    const { queue, name } = setup();
    const late: { code?: string } = {};
    const app = express();
    app.use(taskq({ queue }));
    app.post('/misuse', async (req, res) => {
      expect(() => req.taskQueue.use(async (_s, next) => next())).toThrowError(
        expect.objectContaining({ code: 'TASKQ_REQUEST_QUEUE_MISUSE' }),
      );
      await expect(req.taskQueue.close()).rejects.toMatchObject({ code: 'TASKQ_REQUEST_QUEUE_MISUSE' });
      res.json({ ok: true });
      await sleep(50);
      late.code = await req.taskQueue
        .with({ priority: 1 })
        .submit(notify, 'late')
        .then(
          () => 'submitted',
          (error: unknown) => errorCode(error),
        );
    });
    const response = await fetch(`${await serve(app)}/misuse`, { method: 'POST' });
    expect(response.status).toBe(200);
    await sleep(100);
    expect(late.code).toBe('TASKQ_REQUEST_SETTLED');
    expect(await queueDepth(name)).toBe(0);
  });

  it('drives a custom unitOfWork factory: run() around the route, commit() before the response, rollback() on failure; undefined means a plain unit of work', async () => {
    const { queue, name } = setup();
    const calls: string[] = [];
    const hook = (q: TaskQueue, req: Request): RequestUnitOfWork | undefined => {
      if (req.method === 'GET') return undefined;
      const uow: UnitOfWork = q.begin();
      return {
        uow,
        run: (fn) => {
          calls.push(`run ${req.path}`);
          return uow.run(fn);
        },
        commit: async () => {
          calls.push(`commit ${req.path}`);
          await uow.commit();
        },
        rollback: async () => {
          calls.push(`rollback ${req.path}`);
          await uow.rollback();
        },
      };
    };
    const app = express();
    app.use(taskq({ queue, unitOfWork: hook, logger: silentLogger }));
    app.post('/ok', async (req, res) => {
      expect(requestUnitOfWork(req).uow).toBe(req.taskQueue.uow);
      await req.taskQueue.submit(notify, 'ok');
      res.json({ calls: [...calls] });
    });
    app.post('/fail', async (req) => {
      await req.taskQueue.submit(notify, 'fail');
      throw new Error('boom');
    });
    app.get('/read', (req, res) => {
      res.json({ plain: !('run' in requestUnitOfWork(req)) });
    });
    app.use(taskqErrors());
    const url = await serve(app);
    expect(await (await fetch(`${url}/ok`, { method: 'POST' })).json()).toEqual({ calls: ['run /ok'] });
    expect((await fetch(`${url}/fail`, { method: 'POST' })).status).toBe(500);
    expect(await (await fetch(`${url}/read`)).json()).toEqual({ plain: true });
    expect(calls).toEqual(['run /ok', 'commit /ok', 'run /fail', 'rollback /fail']);
    expect(await queueDepth(name)).toBe(1);
  });

  it('a unitOfWork factory that fails to open answers through the error handlers, with nothing left open', async () => {
    const { queue } = setup();
    const app = express();
    app.use(
      taskq({
        queue,
        unitOfWork: async () => {
          throw Object.assign(new Error('database is down'), { code: 'ECONNREFUSED' });
        },
      }),
    );
    app.get('/', (_req, res) => res.end('never'));
    app.use(answerCode);
    const response = await fetch(await serve(app));
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ code: 'ECONNREFUSED' });
  });

  it('requestUnitOfWork() outside taskq() says what is missing', async () => {
    const app = express();
    app.get('/', (req, res) => {
      res.json({
        code: (() => {
          try {
            requestUnitOfWork(req);
            return 'none';
          } catch (error) {
            return errorCode(error);
          }
        })(),
      });
    });
    expect(await (await fetch(await serve(app))).json()).toEqual({ code: 'TASKQ_NO_REQUEST_UNIT_OF_WORK' });
  });
});
