import { Inject, Injectable, type INestApplicationContext, Module, Scope } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  type CurrentTask,
  currentTask,
  memory,
  memoryResultStore,
  type TaskContext,
  type TaskQueue,
  TaskRegistry,
  type Transport,
  type Worker,
} from '@taskq/core';
import {
  getQueueToken,
  getWorkerToken,
  InjectQueue,
  Task,
  type TaskqMiddleware,
  TaskqModule,
  type TaskqModuleOptions,
  type TaskqOptionsFactory,
} from '@taskq/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, MailModule, MailTasks, type User } from './fixtures/mail.js';

const ada: User = { id: 1, name: 'Ada', email: 'ada@example.com' };
const opened: INestApplicationContext[] = [];

afterEach(async () => {
  for (const app of opened.splice(0)) await app.close();
});

async function compile(metadata: Parameters<typeof Test.createTestingModule>[0]): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule(metadata).compile();
  opened.push(moduleRef);
  return moduleRef.init();
}

/** A request-scoped task provider: a new instance per task, with the running task as REQUEST. */
@Injectable({ scope: Scope.REQUEST })
class AuditTasks {
  static instances = 0;
  readonly instance = ++AuditTasks.instances;

  constructor(
    @Inject(REQUEST) private readonly task: CurrentTask,
    @Inject(Mailer) private readonly mailer: Mailer,
  ) {}

  @Task('audit.record')
  async record(
    what: string,
  ): Promise<{ instance: number; taskId: string; sameAsCurrent: boolean; from: string; what: string }> {
    return {
      instance: this.instance,
      taskId: this.task.id,
      sameAsCurrent: this.task.id === currentTask().id,
      from: this.mailer.from,
      what,
    };
  }
}

/** Per-task middleware as an injectable class with its own dependency. */
@Injectable()
class Timing implements TaskqMiddleware {
  readonly seen: string[] = [];
  constructor(@Inject(Mailer) private readonly mailer: Mailer) {}

  async use(ctx: TaskContext, next: () => Promise<void>): Promise<void> {
    this.seen.push(`before ${ctx.name} (mailer from ${this.mailer.from})`);
    await next();
    this.seen.push(`after ${ctx.name}`);
  }
}

describe('worker mode', () => {
  it('logs, through the application logger, the worker start with its queues, concurrency and prefix (as the CLI does)', async () => {
    const lines: string[] = [];
    const capture = (message: unknown, context?: unknown) => void lines.push(`[${String(context)}] ${String(message)}`);
    const moduleRef = await Test.createTestingModule({
      imports: [TaskqModule.forRoot({ transport: memory(), worker: { concurrency: 3 } }), MailModule],
    })
      .setLogger({ log: capture, error: capture, warn: capture, debug: capture, verbose: capture })
      .compile();
    opened.push(moduleRef);
    await moduleRef.init();
    const started = lines.filter((line) => line.includes('worker started'));
    expect(started).toHaveLength(1);
    expect(started[0]).toContain('queues=default');
    expect(started[0]).toContain('concurrency=3');
    expect(started[0]).toContain('prefix=(in-process)');
  });

  it('calls request-scoped task providers on a fresh instance per task, with the task as REQUEST', async () => {
    const app = await compile({
      imports: [TaskqModule.forRoot({ transport: memory(), store: memoryResultStore(), worker: {} }), MailModule],
      providers: [AuditTasks],
    });
    const queue = app.get<TaskQueue>(getQueueToken());
    // The prototype method is what a caller holding any instance would pass; no instance exists outside a task here.
    const first = await queue.submit(AuditTasks.prototype.record, 'login');
    const second = await queue.submit(AuditTasks.prototype.record, 'logout');
    const a = await first.result({ timeout: 5_000 });
    const b = await second.result({ timeout: 5_000 });
    expect(a).toMatchObject({ taskId: first.id, sameAsCurrent: true, from: 'web@example.com', what: 'login' });
    expect(b).toMatchObject({ taskId: second.id, sameAsCurrent: true, what: 'logout' });
    expect(a.instance).not.toBe(b.instance);
  });

  it('wraps every task in middleware: injectable classes from the container and plain functions, outermost first', async () => {
    const order: string[] = [];
    const app = await compile({
      imports: [
        TaskqModule.forRoot({
          transport: memory(),
          store: memoryResultStore(),
          worker: {
            middleware: [
              async (ctx, next) => {
                order.push(`fn before ${ctx.name}`);
                await next();
                order.push(`fn after ${ctx.name}`);
              },
              Timing,
            ],
          },
        }),
        MailModule,
      ],
      providers: [Timing],
    });
    const queue = app.get<TaskQueue>(getQueueToken());
    await (await queue.submit(app.get(MailTasks).sendWelcome, ada)).result({ timeout: 5_000 });
    expect(order).toEqual(['fn before MailTasks.sendWelcome', 'fn after MailTasks.sendWelcome']);
    expect(app.get(Timing).seen).toEqual([
      'before MailTasks.sendWelcome (mailer from web@example.com)',
      'after MailTasks.sendWelcome',
    ]);
  });

  it('runs plain-function tasks from a registry next to @Task() methods', async () => {
    const shout = async (text: string): Promise<string> => text.toUpperCase();
    const app = await compile({
      imports: [
        TaskqModule.forRoot({
          transport: memory(),
          store: memoryResultStore(),
          registry: new TaskRegistry().add('text.shout', shout),
          worker: {},
        }),
        MailModule,
      ],
    });
    const queue = app.get<TaskQueue>(getQueueToken());
    expect(await (await queue.submit(shout, 'hi')).result({ timeout: 5_000 })).toBe('HI');
    expect(await (await queue.submit(app.get(MailTasks).sendWelcome, ada)).result({ timeout: 5_000 })).toContain(
      'Welcome, Ada!',
    );
  });

  it('injects named queues that submit to their own logical queue, all consumed by default', async () => {
    @Injectable()
    class Notifier {
      constructor(
        @InjectQueue('mail') readonly mailQueue: TaskQueue,
        @InjectQueue() readonly defaultQueue: TaskQueue,
        readonly mail: MailTasks,
      ) {}
    }
    const app = await compile({
      imports: [
        TaskqModule.forRoot({
          transport: memory(),
          store: memoryResultStore(),
          queues: ['mail', { name: 'bulk', defaults: { priority: 1 } }],
          worker: {},
        }),
        MailModule,
      ],
      providers: [Notifier],
    });
    const notifier = app.get(Notifier);
    const viaMail = await notifier.mailQueue.submit(notifier.mail.sendWelcome, ada);
    const viaDefault = await notifier.defaultQueue.submit(notifier.mail.sendWelcome, ada);
    const viaBulk = await app.get<TaskQueue>(getQueueToken('bulk')).submit(notifier.mail.sendWelcome, ada);
    expect([viaMail.queue, viaDefault.queue, viaBulk.queue]).toEqual(['mail', 'default', 'bulk']);
    for (const handle of [viaMail, viaDefault, viaBulk]) await handle.result({ timeout: 5_000 });
    expect(app.get<Worker>(getWorkerToken()).queues).toEqual(['default', 'mail', 'bulk']);
  });

  describe('forRootAsync', () => {
    const TRANSPORT = 'TRANSPORT';
    @Module({ providers: [{ provide: TRANSPORT, useFactory: () => memory() }], exports: [TRANSPORT] })
    class ConfigModule {}

    @Injectable()
    class TaskqConfig implements TaskqOptionsFactory {
      constructor(@Inject(TRANSPORT) private readonly transport: Transport) {}
      createTaskqOptions(): TaskqModuleOptions {
        return { transport: this.transport, store: memoryResultStore(), worker: { concurrency: 3 } };
      }
    }

    const variants = {
      useFactory: () =>
        TaskqModule.forRootAsync({
          imports: [ConfigModule],
          inject: [TRANSPORT],
          useFactory: async (transport: Transport) => ({
            transport,
            store: memoryResultStore(),
            worker: { concurrency: 3 },
          }),
        }),
      useClass: () => TaskqModule.forRootAsync({ imports: [ConfigModule], useClass: TaskqConfig }),
    };

    for (const [name, make] of Object.entries(variants)) {
      it(`configures the queue and the worker with ${name}`, async () => {
        const app = await compile({ imports: [make(), MailModule] });
        expect(app.get<Worker>(getWorkerToken()).concurrency).toBe(3);
        const handle = await app.get<TaskQueue>(getQueueToken()).submit(app.get(MailTasks).sendWelcome, ada);
        expect(await handle.result({ timeout: 5_000 })).toContain('Welcome, Ada!');
      });
    }

    it('configures the module with useExisting', async () => {
      @Module({ imports: [ConfigModule], providers: [TaskqConfig], exports: [TaskqConfig] })
      class OptionsModule {}
      const app = await compile({
        imports: [TaskqModule.forRootAsync({ imports: [OptionsModule], useExisting: TaskqConfig }), MailModule],
      });
      expect(app.get<Worker>(getWorkerToken()).concurrency).toBe(3);
    });

    it('validates what the factory returns', async () => {
      const error = await compile({
        imports: [
          TaskqModule.forRootAsync({ useFactory: () => ({ transport: memory(), worker: { concurrency: 0 } }) }),
          MailModule,
        ],
      }).catch((e: unknown) => e);
      expect(String(error)).toMatch(/option "concurrency"/);
    });
  });

  it('has no worker without the worker option', async () => {
    const app = await compile({ imports: [TaskqModule.forRoot({ transport: memory() }), MailModule] });
    expect(app.get(getWorkerToken())).toBeNull();
  });
});
