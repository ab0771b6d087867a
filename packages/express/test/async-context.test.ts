import { TaskRegistry } from '@taskq/core';
import { currentUnitOfWork } from '@taskq/core/adapter';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { taskq, taskqErrors } from '../src/index.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { listen } from './support/http.js';
import { queueDepth } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';

async function notify(who: string): Promise<void> {
  void who;
}
const registry = new TaskRegistry().add('notify', notify);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const setup = () => testQueue(cleanup, 'express-context', registry);

async function post(app: Express, path: string, body?: unknown): Promise<number> {
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  await response.arrayBuffer();
  return response.status;
}

// Calls next() from a timer started at import, outside any request: the request's async context is gone there.
const parked: Array<() => void> = [];
const pump = setInterval(() => {
  for (const resume of parked.splice(0)) resume();
}, 5);
pump.unref();
function contextLosingMiddleware(_req: Request, _res: Response, next: NextFunction): void {
  parked.push(() => next());
}

describe('Express: the request’s unit of work reaches the handler', () => {
  it('through express.json(), a nested router and awaits, so even the application queue’s submit joins it', async () => {
    for (const outcome of ['throw', 'succeed'] as const) {
      const { queue, name } = setup();
      const app = express();
      app.use(taskq({ queue }));
      app.use(express.json());
      const router = express.Router();
      router.post('/nested', async (req, res) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(currentUnitOfWork()).toBe(req.taskQueue.uow);
        await queue.submit(notify, req.body.who);
        if (outcome === 'throw') throw new Error('after submit');
        res.json({ ok: true });
      });
      app.use('/deep', router);
      app.use(taskqErrors());
      const status = await post(app, '/deep/nested', { who: 'ann' });
      expect(status).toBe(outcome === 'throw' ? 500 : 200);
      expect(await queueDepth(name)).toBe(outcome === 'throw' ? 0 : 1);
    }
  });

  it('req.taskQueue stays bound to the request where a middleware lost the async context', async () => {
    const { queue, name } = setup();
    let contextSeen: unknown = 'not run';
    const app = express();
    app.use(taskq({ queue }));
    app.use(contextLosingMiddleware);
    app.post('/lost', async (req) => {
      contextSeen = currentUnitOfWork();
      await req.taskQueue.submit(notify, 'bob');
      throw new Error('after submit');
    });
    app.use(taskqErrors());
    expect(await post(app, '/lost')).toBe(500);
    expect(contextSeen).toBeUndefined(); // the context really was lost...
    expect(await queueDepth(name)).toBe(0); // ...and the request's task was still dropped
  });
});
