import { createWorker, silentLogger } from '@taskq/core';
import type { FastifyInstance } from 'fastify';
import { accepted, requestUnitOfWork, taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
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

httpContract('Fastify', async (options, cleanup) => {
  const { queue, name } = testQueue(cleanup, 'fastify-contract', contractRegistry, {
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
  const routes = async (app: FastifyInstance): Promise<void> => {
    await app.register(taskqPlugin, {
      queue,
      routes: CONTRACT_ROUTES,
      allowedHosts: options.allowedHosts,
      rollbackOn: options.rollbackOn,
      logger: silentLogger,
      statusRoute: { authorize: options.authorize, exposeErrors: options.exposeErrors, internals: options.internals },
    });
    app.post<{ Params: { kind: string } }>('/jobs/:kind', async (request, reply) => {
      runs++;
      reply.header('set-cookie', JOBS_COOKIE);
      return accepted(reply, await request.taskQueue.submit(contractTask(request.params.kind)), { retryAfter: 1 });
    });
    app.post<{ Params: { mode: string } }>('/outcome/:mode', async (request, reply) => {
      const outcome = await contractOutcome(request.params.mode, {
        queue: request.taskQueue,
        appQueue: queue,
        unitOfWork: () => requestUnitOfWork(request).uow,
        clientError: (message) => Object.assign(new Error(message), { statusCode: 400 }),
      });
      return reply.code(outcome.status).send(outcome.body);
    });
    app.post<{ Params: { slug: string } }>('/links/:slug', async (request) => {
      const direct = await newsLinks(request, request.params.slug);
      return { direct, task: (await request.taskQueue.submit(newsLinks, request, request.params.slug)).id };
    });
  };
  const build = async (app: FastifyInstance): Promise<void> => {
    if (options.basePath) await app.register(routes, { prefix: options.basePath });
    else await routes(app);
  };
  const { url, port } = await serve(cleanup, build, {
    trustProxy: options.trustProxy ?? false,
  });
  return { url, port, handlerRuns: () => runs, takeRawMessage: () => takeRawMessage(name), startWorker };
});
