// Publish-iff-success over HTTP is in the HTTP contract suite (http-contract.test.ts); this is what only Express's
// response hold does.
import { TaskRegistry, type TaskQueue, type Transport } from '@taskq/core';
import express, { type Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { taskq, taskStatusHandler } from '../src/index.js';
import { Cleanup } from '../../../test-support/cleanup.js';
import { faulty } from '../../../test-support/faulty-transport.js';
import { listen } from './support/http.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';
import { sleep } from '../../../test-support/wait.js';

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
function setup(wrap: (transport: Transport) => Transport = (t) => t): {
  queue: TaskQueue;
  name: string;
  transport: Transport;
} {
  return testQueue(cleanup, 'express-iff', registry, { wrap });
}

async function serve(app: Express): Promise<string> {
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  return server.url;
}

describe('Express: the response is held until the commit', () => {
  it('the commit (publish confirmed by the broker) finishes before the client sees the response: a plain res.end and a streamed body', async () => {
    const { queue, transport } = setup((t) => faulty(t, { delayMs: 250 }));
    const confirmedAt = (transport as ReturnType<typeof faulty>).confirmedAt;
    const app = express();
    app.use(taskq({ queue }));
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

    for (const path of ['/end', '/stream']) {
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
});
