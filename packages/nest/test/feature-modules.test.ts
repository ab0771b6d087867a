import { Inject, Injectable, type INestApplicationContext, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { type CompletedEvent, type FailedEvent, memoryResultStore, type TaskQueue, type Worker } from '@taskq/core';
import {
  getQueueToken,
  InjectQueue,
  InjectWorker,
  OnTaskEvent,
  Task,
  TaskEventHandlerError,
  TaskqModule,
  UndeclaredQueueError,
} from '@taskq/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { gate, sleep, waitFor } from '../../../test-support/wait.js';
import { TestBroker } from './support/broker.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function start(metadata: Parameters<typeof Test.createTestingModule>[0]): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  cleanup.push(() => moduleRef.close());
  return moduleRef.init();
}

function broker(): TestBroker {
  const created = new TestBroker();
  // The modules below name their queues themselves: cleanup() deletes them with the prefix (a missing one is fine).
  for (const queue of ['emails', 'slow', 'bulk', 'mail']) created.adopt(queue);
  cleanup.push(() => created.cleanup());
  return created;
}

// A feature module of its own: its queue is declared where it is used, as with BullModule.registerQueue().
@Injectable()
class EmailTasks {
  readonly sent: string[] = [];

  @Task('emails.send')
  async send(to: string): Promise<string> {
    this.sent.push(to);
    return to;
  }
}

@Injectable()
class EmailService {
  constructor(
    @InjectQueue('emails') readonly queue: TaskQueue,
    @Inject(EmailTasks) private readonly tasks: EmailTasks,
  ) {}

  welcome(to: string) {
    return this.queue.submit(this.tasks.send, to);
  }
}

@Module({
  imports: [TaskqModule.forFeature({ queues: ['emails'] })],
  providers: [EmailTasks, EmailService],
  exports: [EmailService],
})
class EmailsModule {}

describe('TaskqModule.forFeature()', () => {
  it('declares a queue in a feature module: its providers inject it, and the worker consumes it', async () => {
    const b = broker();
    const app = await start({
      imports: [
        TaskqModule.forRoot({ transport: b.transport(), store: memoryResultStore(), worker: { concurrency: 2 } }),
        EmailsModule,
      ],
    });
    const service = app.get(EmailService);
    const handle = await service.welcome('ada@example.com');
    await waitFor(() => app.get(EmailTasks).sent.length === 1, 'the email task to run');
    expect(app.get(EmailTasks).sent).toEqual(['ada@example.com']);
    expect(await handle.result()).toBe('ada@example.com');
    const worker = app.get<Worker>('TaskqWorker');
    expect(worker.queues).toEqual(['default', 'emails']);
  });

  it('an undeclared @InjectQueue(name) fails at start-up with an error naming the class and the fix', async () => {
    @Injectable()
    class ReportService {
      constructor(@InjectQueue('reports-undeclared') readonly queue: TaskQueue) {}
    }
    const b = broker();
    const failure = Test.createTestingModule({
      imports: [TaskqModule.forRoot({ transport: b.transport() })],
      providers: [ReportService],
    }).compile();
    await expect(failure).rejects.toThrow(UndeclaredQueueError);
    await expect(failure).rejects.toThrow(
      /ReportService injects @InjectQueue\('reports-undeclared'\).*TaskqModule\.forFeature\(\{ queues: \['reports-undeclared'\] \}\) to the imports of the module that provides ReportService/,
    );
  });

  it('says so when the queue is declared by another module that the provider does not import', async () => {
    @Injectable()
    class Newsletter {
      constructor(@InjectQueue('emails') readonly queue: TaskQueue) {}
    }
    const b = broker();
    const failure = Test.createTestingModule({
      imports: [TaskqModule.forRoot({ transport: b.transport() }), EmailsModule],
      providers: [Newsletter],
    }).compile();
    await expect(failure).rejects.toThrow(UndeclaredQueueError);
    await expect(failure).rejects.toThrow(/Newsletter injects.*declares it in another module/);
  });

  it('a name used with @InjectQueue() somewhere in the process does not break an application that does not inject it', async () => {
    const b = broker();
    const app = await start({ imports: [TaskqModule.forRoot({ transport: b.transport() })] });
    expect(app.get<TaskQueue>(getQueueToken())).toBeDefined();
  });
});

// Per-queue worker settings: a queue with a concurrency of its own gets its own consumer.
const held = { slow: 0, slowMax: 0, fast: 0, release: gate() };

@Injectable()
class MixedTasks {
  @Task('mixed.slow')
  async slow(): Promise<void> {
    held.slow++;
    held.slowMax = Math.max(held.slowMax, held.slow);
    await held.release.promise;
    held.slow--;
  }

  @Task('mixed.fast')
  async fast(): Promise<void> {
    held.fast++;
    await held.release.promise;
  }
}

@Injectable()
class MixedService {
  constructor(
    @InjectQueue() readonly queue: TaskQueue,
    @InjectQueue('slow') readonly slowQueue: TaskQueue,
    @Inject(MixedTasks) readonly tasks: MixedTasks,
  ) {}
}

@Injectable()
class BulkTasks {
  readonly done: number[] = [];

  @Task('bulk.crunch')
  async crunch(n: number): Promise<void> {
    this.done.push(n);
  }
}

describe('per-queue worker settings', () => {
  it('runs a queue declared with concurrency 1 one task at a time while the other queues share 4 slots', async () => {
    const b = broker();
    const app = await start({
      imports: [
        TaskqModule.forRoot({ transport: b.transport(), worker: { concurrency: 4, shutdownTimeout: 1_000 } }),
        {
          module: class SlowModule {},
          imports: [TaskqModule.forFeature({ queues: [{ name: 'slow', concurrency: 1 }] })],
          providers: [MixedTasks, MixedService],
        },
      ],
    });
    cleanup.push(async () => held.release.open());
    const service = app.get(MixedService);
    for (let i = 0; i < 3; i++) await service.slowQueue.submit(service.tasks.slow);
    for (let i = 0; i < 3; i++) await service.queue.submit(service.tasks.fast);
    await waitFor(() => held.fast === 3 && held.slow === 1, 'three fast tasks and one slow task to be running');
    // Had the slow queue shared the 4 slots, a second slow task would start in the free one.
    await sleep(300);
    expect(held.slowMax).toBe(1);
    held.release.open();
  });

  it('worker.queues entries set a concurrency per queue; @InjectWorker() is the shared worker', async () => {
    @Injectable()
    class Probe {
      constructor(@InjectWorker() readonly worker: Worker) {}
    }
    const b = broker();
    const app = await start({
      imports: [
        TaskqModule.forRoot({
          transport: b.transport(),
          queues: ['bulk', 'mail'],
          worker: { concurrency: 3, queues: ['default', { name: 'bulk', concurrency: 7 }, 'mail'], autoStart: false },
        }),
      ],
      providers: [Probe, BulkTasks],
    });
    const worker = app.get(Probe).worker;
    expect(worker.queues).toEqual(['default', 'mail']);
    expect(worker.concurrency).toBe(3);
    await worker.start();
    expect(worker.state).toBe('running');
    // Starting the injected worker started the bulk queue's own worker too.
    const bulk = app.get(BulkTasks);
    await app.get<TaskQueue>(getQueueToken('bulk')).submit(bulk.crunch, 5);
    await waitFor(() => bulk.done.includes(5), 'the bulk task to run');
  });
});

// Worker events on providers, as @OnWorkerEvent() on a BullMQ WorkerHost.
@Injectable()
class FlakyTasks {
  @Task({ id: 'flaky.ok' })
  async ok(n: number): Promise<number> {
    return n * 2;
  }

  @Task({ id: 'flaky.broken', attempts: 1 })
  async broken(): Promise<void> {
    throw new Error('broken on purpose');
  }
}

@Injectable()
class TaskObserver {
  readonly completed: CompletedEvent[] = [];
  readonly failedOnEmails: FailedEvent[] = [];
  readonly failedAnywhere: string[] = [];

  @OnTaskEvent('completed')
  onCompleted(event: CompletedEvent): void {
    this.completed.push(event);
  }

  @OnTaskEvent('failed', { queue: 'emails' })
  onEmailFailed(event: FailedEvent): void {
    this.failedOnEmails.push(event);
  }

  @OnTaskEvent('failed')
  async onFailed(event: FailedEvent): Promise<void> {
    this.failedAnywhere.push(event.queue);
    // A rejected listener is logged, never felt by the worker.
    throw new Error('listener failure');
  }
}

describe('@OnTaskEvent()', () => {
  it('calls provider methods with the worker events, filtered by queue when asked', async () => {
    const b = broker();
    const app = await start({
      imports: [
        TaskqModule.forRoot({
          transport: b.transport(),
          store: memoryResultStore(),
          queues: ['emails'],
          worker: { concurrency: 2 },
        }),
      ],
      providers: [FlakyTasks, TaskObserver],
    });
    const queue = app.get<TaskQueue>(getQueueToken());
    const emails = app.get<TaskQueue>(getQueueToken('emails'));
    const tasks = app.get(FlakyTasks);
    const observer = app.get(TaskObserver);
    const ok = await queue.submit(tasks.ok, 21);
    await queue.submit(tasks.broken);
    await emails.submit(tasks.broken);
    await waitFor(() => observer.failedAnywhere.length === 2 && observer.completed.length === 1, 'the events');
    expect(observer.completed[0]).toMatchObject({ id: ok.id, name: 'flaky.ok', queue: 'default', result: 42 });
    expect(observer.failedOnEmails).toHaveLength(1);
    expect(observer.failedOnEmails[0]).toMatchObject({ name: 'flaky.broken', queue: 'emails', willRetry: false });
    expect(observer.failedAnywhere.sort()).toEqual(['default', 'emails']);
    // The worker still runs tasks after its listeners threw.
    expect(await (await queue.submit(tasks.ok, 1)).result()).toBe(2);
  });

  it('refuses an unknown event and a queue filter on worker errors when the class is defined', () => {
    expect(() => OnTaskEvent('finished' as 'completed')).toThrow(TaskEventHandlerError);
    expect(() => OnTaskEvent('error', { queue: 'emails' })).toThrow(/belong to no queue/);
  });
});
