import type { AddressInfo } from 'node:net';
import { BadRequestException, Controller, Header, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { memoryResultStore, type TaskQueue, type TaskRequest, type UrlHelpers, type Worker } from '@taskq/core';
import { Accepted, getWorkerToken, InjectQueue, RequestUrls, requestUnitOfWork, TaskqModule } from '@taskq/nest';
import { TestBroker } from './support/broker.js';
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

const RUNS = 'ContractHandlerRuns';

@Controller()
class ContractController {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @Inject(RUNS) private readonly runs: { count: number },
  ) {}

  @Post('jobs/:kind')
  @Accepted({ retryAfter: 1 })
  @Header('Set-Cookie', JOBS_COOKIE)
  submit(@Param('kind') kind: string) {
    this.runs.count++;
    return this.queue.submit(contractTask(kind));
  }

  @Post('outcome/:mode')
  async outcome(
    @Param('mode') mode: string,
    @Req() request: unknown,
    @Res({ passthrough: true }) response: { status(code: number): unknown },
  ) {
    const outcome = await contractOutcome(mode, {
      queue: this.queue,
      appQueue: this.queue,
      unitOfWork: () => requestUnitOfWork(request).uow,
      clientError: (message) => new BadRequestException(message),
    });
    response.status(outcome.status);
    return outcome.body;
  }

  @Post('links/:slug')
  async links(@Param('slug') slug: string, @RequestUrls() urls: TaskRequest, @Req() request: unknown) {
    const direct = await newsLinks(urls, slug);
    // The platform's request itself travels (the interceptor marked it); typed as what the task declares.
    const task = await this.queue.submit(newsLinks, request as UrlHelpers, slug);
    return { direct, task: task.id };
  }
}

for (const platform of ['express', 'fastify'] as const) {
  httpContract(`Nest on ${platform}`, async (options, cleanup) => {
    const broker = new TestBroker();
    cleanup.add(() => broker.cleanup());
    const runs = { count: 0 };
    const transport = broker.transport();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TaskqModule.forRoot({
          transport: options.wrap ? options.wrap(transport) : transport,
          store: options.store ?? memoryResultStore(),
          registry: contractRegistry,
          worker: { concurrency: 1, autoStart: options.worker !== false },
          statusRoute: 'tasks',
          http: {
            routes: CONTRACT_ROUTES,
            allowedHosts: options.allowedHosts,
            rollbackOn: options.rollbackOn,
            statusRoute: {
              authorize: options.authorize,
              exposeErrors: options.exposeErrors,
              internals: options.internals,
            },
          },
        }),
      ],
      controllers: [ContractController],
      providers: [{ provide: RUNS, useValue: runs }],
    }).compile();
    const adapter =
      platform === 'express' ? new ExpressAdapter() : new FastifyAdapter({ trustProxy: options.trustProxy ?? false });
    const app = moduleRef.createNestApplication(adapter, { logger: false });
    if (platform === 'express' && options.trustProxy) (app as NestExpressApplication).set('trust proxy', 'loopback');
    if (options.basePath) app.setGlobalPrefix(options.basePath);
    await app.listen(0, '127.0.0.1');
    cleanup.add(() => app.close());
    const { port } = app.getHttpServer().address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      handlerRuns: () => runs.count,
      takeRawMessage: () => takeRawMessage('default', broker.prefix),
      startWorker: () => app.get<Worker>(getWorkerToken()).start(),
    };
  });
}
