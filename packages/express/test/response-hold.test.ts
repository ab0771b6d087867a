import type { ServerResponse } from 'node:http';
import { silentLogger, TaskRegistry, type TaskQueue } from '@taskq/core';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { taskq } from '../src/index.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { faulty } from '../../../test-support/faulty-transport.js';
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

/** A slow publish confirm, so the response is held long enough for the handler to misbehave meanwhile. */
function setup(): { queue: TaskQueue; name: string } {
  const { queue, name } = testQueue(cleanup, 'express-hold', registry, {
    wrap: (transport) => faulty(transport, { delayMs: 150 }),
  });
  return { queue, name };
}

async function serve(app: Express): Promise<string> {
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  return server.url;
}

/**
 * What on-headers (express-session, morgan's response-time) does: wrap writeHead to set a header at the last moment.
 */
function lateHeader(name: string) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      if (!this.headersSent) this.setHeader(name, 'set at writeHead');
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as Response['writeHead'];
    next();
  };
}

/** What compression does: wrap write/end after taskq. */
function shout(_req: Request, res: Response, next: NextFunction): void {
  const end = res.end;
  res.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
    const upper =
      typeof chunk === 'string' || Buffer.isBuffer(chunk) ? Buffer.from(chunk.toString().toUpperCase()) : chunk;
    if (Buffer.isBuffer(upper)) this.setHeader('content-length', upper.length);
    return (end as (...a: unknown[]) => Response).call(this, upper, ...rest);
  } as Response['end'];
  next();
}

describe('Express: holding the response until the commit', () => {
  it('keeps middleware that wraps writeHead/end before or after taskq() working (session cookies, compression)', async () => {
    const { queue, name } = setup();
    const app = express();
    app.use(lateHeader('x-before'));
    app.use(taskq({ queue }));
    app.use(lateHeader('x-after'));
    app.use(shout);
    app.post('/', async (req, res) => {
      await req.taskQueue.submit(notify, 'ann');
      res.type('text/plain').send('committed');
    });
    const response = await fetch(await serve(app), { method: 'POST' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-before')).toBe('set at writeHead');
    expect(response.headers.get('x-after')).toBe('set at writeHead');
    expect(await response.text()).toBe('COMMITTED');
    expect(await queueDepth(name)).toBe(1);
  });

  it('a handler that answers twice while the commit runs: the first answer goes out, unchanged, and nothing crashes', async () => {
    const { queue, name } = setup();
    const app = express();
    app.use(taskq({ queue, logger: silentLogger }));
    app.post('/', async (req, res) => {
      await req.taskQueue.submit(notify, 'ann');
      res.status(201).json({ first: true });
      await sleep(20);
      res.status(500).set('x-second', 'yes').json({ second: true });
    });
    const response = await fetch(await serve(app), { method: 'POST' });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-second')).toBeNull();
    expect(await response.json()).toEqual({ first: true });
    expect(await queueDepth(name)).toBe(1);
  });
});
