import type { AddressInfo } from 'node:net';
import { Controller, Inject, Param, Post } from '@nestjs/common';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { memoryResultStore, type TaskQueue } from '@taskq/core';
import { Accepted, InjectQueue, TaskqModule } from '@taskq/nest';
import { TestBroker } from './support/broker.js';
import { contractRegistry, contractTask, hostAndStatusContract } from '../../../test-support/http-contract.js';

const RUNS = 'ContractHandlerRuns';

@Controller('jobs')
class JobsController {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @Inject(RUNS) private readonly runs: { count: number },
  ) {}

  @Post(':kind')
  @Accepted()
  submit(@Param('kind') kind: string) {
    this.runs.count++;
    return this.queue.submit(contractTask(kind));
  }
}

for (const platform of ['express', 'fastify'] as const) {
  hostAndStatusContract(`Nest on ${platform}`, async (options, cleanup) => {
    const broker = new TestBroker();
    cleanup.add(() => broker.cleanup());
    const runs = { count: 0 };
    const moduleRef = await Test.createTestingModule({
      imports: [
        TaskqModule.forRoot({
          transport: broker.transport(),
          store: memoryResultStore(),
          registry: contractRegistry,
          worker: { concurrency: 1 },
          statusRoute: 'tasks',
          http: { allowedHosts: options.allowedHosts, statusRoute: { authorize: options.authorize, exposeErrors: options.exposeErrors } },
        }),
      ],
      controllers: [JobsController],
      providers: [{ provide: RUNS, useValue: runs }],
    }).compile();
    const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: options.trustProxy ?? false });
    const app = moduleRef.createNestApplication(adapter, { logger: false });
    if (platform === 'express' && options.trustProxy) (app as NestExpressApplication).set('trust proxy', 'loopback');
    await app.listen(0, '127.0.0.1');
    cleanup.add(() => app.close());
    const { port } = app.getHttpServer().address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, port, handlerRuns: () => runs.count };
  });
}
