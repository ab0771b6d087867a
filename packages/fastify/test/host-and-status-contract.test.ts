import { createWorker, silentLogger } from '@taskq/core';
import { accepted, taskqPlugin } from '../src/index.js';
import { serve } from './support/app.js';
import { contractRegistry, contractTask, hostAndStatusContract } from '../../../test-support/http-contract.js';
import { testQueue } from '../../../test-support/taskq-amqp.js';

hostAndStatusContract('Fastify', async (options, cleanup) => {
  const { queue, name } = testQueue(cleanup, 'fastify-contract', contractRegistry);
  const worker = createWorker({ registry: contractRegistry, transport: queue.transport, store: queue.store, queues: [name], logger: silentLogger });
  await worker.start();
  cleanup.add(() => worker.stop({ timeout: 2_000 }));

  let runs = 0;
  const { url, port } = await serve(
    cleanup,
    async (app) => {
      await app.register(taskqPlugin, {
        queue,
        closeQueue: false,
        allowedHosts: options.allowedHosts,
        statusRoute: { authorize: options.authorize, exposeErrors: options.exposeErrors },
      });
      app.post<{ Params: { kind: string } }>('/jobs/:kind', async (request, reply) => {
        runs++;
        return accepted(reply, await request.taskQueue.submit(contractTask(request.params.kind)));
      });
    },
    { trustProxy: options.trustProxy ?? false },
  );
  return { url, port, handlerRuns: () => runs };
});
