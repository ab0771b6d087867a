import { createWorker, silentLogger } from '@taskq/core';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { accepted, requestUnitOfWork, taskq, taskqErrors, taskStatusHandler } from '../src/index.js';
import { listen } from './support/http.js';
import {
  CONTRACT_ROUTES,
  contractOutcome,
  contractRegistry,
  contractTask,
  httpContract,
  JOBS_COOKIE,
  newsLinks,
} from '../../../test-support/http-contract/index.js';
import { takeRawMessage } from '../../../test-support/rabbit.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';

/** The app's own error handler, as an Express app has one: the error's status and code as JSON. */
const jsonErrors: ErrorRequestHandler = (
  error: { status?: number; code?: string; message?: string },
  _req,
  res,
  _next,
) => {
  res.status(error.status ?? 500).json({ error: { code: error.code, message: error.message } });
};

httpContract('Express', async (options, cleanup) => {
  const { queue, name } = testQueue(cleanup, 'express-contract', contractRegistry, {
    wrap: options.wrap,
    store: options.store,
  });
  const startWorker = async (): Promise<void> => {
    const worker = createWorker({
      registry: contractRegistry,
      transport: queue.transport,
      store: queue.store,
      queues: [name],
      logger: silentLogger,
    });
    await worker.start();
    cleanup.add(() => worker.stop({ timeout: 2_000 }));
  };
  if (options.worker !== false) await startWorker();

  let runs = 0;
  const app = express();
  if (options.trustProxy) app.set('trust proxy', 'loopback');
  app.use(express.json());
  app.use(
    taskq({
      queue,
      routes: CONTRACT_ROUTES,
      allowedHosts: options.allowedHosts,
      rollbackOn: options.rollbackOn,
      logger: silentLogger,
    }),
  );
  app.post('/jobs/:kind', async (req, res) => {
    runs++;
    res.setHeader('set-cookie', JOBS_COOKIE);
    accepted(res, await req.taskQueue.submit(contractTask(String(req.params.kind))), { retryAfter: 1 });
  });
  app.post('/outcome/:mode', async (req, res) => {
    const outcome = await contractOutcome(String(req.params.mode), {
      queue: req.taskQueue,
      appQueue: queue,
      unitOfWork: () => requestUnitOfWork(req).uow,
      clientError: (message) => Object.assign(new Error(message), { status: 400 }),
    });
    res.status(outcome.status).json(outcome.body);
  });
  app.post('/links/:slug', async (req, res) => {
    const slug = String(req.params.slug);
    const direct = await newsLinks(req, slug);
    res.json({ direct, task: (await req.taskQueue.submit(newsLinks, req, slug)).id });
  });
  app.get(
    '/tasks/:id',
    taskStatusHandler(queue, {
      authorize: options.authorize,
      exposeErrors: options.exposeErrors,
      internals: options.internals,
    }),
  );
  app.use(taskqErrors());
  app.use(jsonErrors);

  let root: Express = app;
  if (options.basePath) {
    root = express();
    if (options.trustProxy) root.set('trust proxy', 'loopback');
    root.use(options.basePath, app);
  }
  const server = await listen((port) => root.listen(port));
  cleanup.add(() => server.close());
  return {
    url: server.url,
    port: server.port,
    handlerRuns: () => runs,
    takeRawMessage: () => takeRawMessage(name),
    startWorker,
  };
});
