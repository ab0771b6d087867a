import { createWorker, silentLogger } from '@taskq/core';
import express, { type ErrorRequestHandler } from 'express';
import { accepted, taskq, taskqErrors, taskStatusHandler } from '../src/index.js';
import { listen } from './support/http.js';
import { contractRegistry, contractTask, hostAndStatusContract } from '../../../test-support/http-contract.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';

/** The app's own error handler, as an Express app has one: the error's status and code as JSON. */
const jsonErrors: ErrorRequestHandler = (error: { status?: number; code?: string; message?: string }, _req, res, _next) => {
  res.status(error.status ?? 500).json({ error: { code: error.code, message: error.message } });
};

hostAndStatusContract('Express', async (options, cleanup) => {
  const { queue, name } = testQueue(cleanup, 'express-contract', contractRegistry);
  const worker = createWorker({ registry: contractRegistry, transport: queue.transport, store: queue.store, queues: [name], logger: silentLogger });
  await worker.start();
  cleanup.add(() => worker.stop({ timeout: 2_000 }));

  let runs = 0;
  const app = express();
  if (options.trustProxy) app.set('trust proxy', 'loopback');
  app.use(taskq({ queue, allowedHosts: options.allowedHosts }));
  app.post('/jobs/:kind', async (req, res) => {
    runs++;
    accepted(res, await req.taskQueue.submit(contractTask(String(req.params.kind))));
  });
  app.get('/tasks/:id', taskStatusHandler(queue, { authorize: options.authorize, exposeErrors: options.exposeErrors }));
  app.use(taskqErrors());
  app.use(jsonErrors);
  const server = await listen((port) => app.listen(port));
  cleanup.add(() => server.close());
  return { url: server.url, port: server.port, handlerRuns: () => runs };
});
