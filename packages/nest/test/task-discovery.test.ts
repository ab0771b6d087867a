import { Injectable, type INestApplicationContext, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { errorCode, memory, memoryResultStore, type TaskQueue, type Worker } from '@taskq/core';
import { getQueueToken, getWorkerToken, InjectQueue, Task, TaskqModule } from '@taskq/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, MailModule, MailTasks, type User } from './fixtures/mail.js';

const ada: User = { id: 1, name: 'Ada', email: 'ada@example.com' };

/** A service as users write it: the queue and the task provider injected, the task submitted by reference. */
@Injectable()
class UsersService {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    private readonly mail: MailTasks,
  ) {}

  register(user: User) {
    return this.queue.submit(this.mail.sendWelcome, user);
  }
}

@Module({ imports: [MailModule], providers: [UsersService] })
class UsersModule {}

const opened: INestApplicationContext[] = [];

async function start(
  imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>,
  withWorker = true,
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TaskqModule.forRoot({
        transport: memory(),
        store: memoryResultStore(),
        ...(withWorker ? { worker: { concurrency: 2 } } : {}),
      }),
      ...imports,
    ],
  }).compile();
  opened.push(moduleRef);
  return moduleRef.init();
}

afterEach(async () => {
  for (const app of opened.splice(0)) await app.close();
});

describe('@Task() methods found by the explorer', () => {
  it('registers them as ClassName.method and recognises the prototype method a service submits', async () => {
    const app = await start([UsersModule]);
    const handle = await app.get(UsersService).register(ada);
    expect(handle.name).toBe('MailTasks.sendWelcome');
    expect(await handle.result({ timeout: 5_000 })).toBe('web@example.com -> ada@example.com: Welcome, Ada!');
    expect(app.get(Mailer).sent).toEqual(['web@example.com -> ada@example.com: Welcome, Ada!']);
  });

  it('leaves the method directly callable: a direct call runs inline, with the same result, and queues nothing', async () => {
    const app = await start([UsersModule]);
    const worker = app.get<Worker>(getWorkerToken());
    let runs = 0;
    worker.on('active', () => runs++);
    const mail = app.get(MailTasks);
    const direct = await mail.sendWelcome(ada);
    const queued = await (await app.get(UsersService).register(ada)).result({ timeout: 5_000 });
    expect(direct).toBe(queued);
    expect(app.get(Mailer).sent).toEqual([direct, queued]);
    expect(runs).toBe(1); // only the submitted one went through the worker
  });

  it('refuses an undecorated method at submit, saying to add @Task()', async () => {
    const app = await start([UsersModule], false);
    const queue = app.get<TaskQueue>(getQueueToken());
    const mail = app.get(MailTasks);
    const error = await queue.submit(mail.preview, ada).catch((e: unknown) => e);
    expect(errorCode(error)).toBe('TASKQ_UNREGISTERED_TASK');
    expect(String(error)).toContain('MailTasks.preview is not a task: decorate the method with @Task()');
  });

  it('refuses a bound method at submit, saying to pass the method itself', async () => {
    const app = await start([UsersModule], false);
    const queue = app.get<TaskQueue>(getQueueToken());
    const mail = app.get(MailTasks);
    // The cast keeps the method's parameter types, which `bind` loses against submit's generic.
    const error = await queue
      .submit(mail.sendWelcome.bind(mail) as MailTasks['sendWelcome'], ada)
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe('TASKQ_UNREGISTERED_TASK');
    expect(String(error)).toContain('bound sendWelcome is a bound function');
  });

  it('checks submit arguments against the method parameters at compile time (npm run typecheck)', () => {
    const typed = (queue: TaskQueue, mail: MailTasks): void => {
      // @ts-expect-error a number is not a User
      void queue.submit(mail.sendWelcome, 42);
      // @ts-expect-error the user is missing
      void queue.submit(mail.sendWelcome);
      // The handle's result type is the method's: Promise<string> → string.
      const check: Promise<import('@taskq/core').TaskHandle<string>> = queue.submit(mail.sendWelcome, ada);
      void check;
    };
    expect(typed).toBeTypeOf('function');
  });

  it('refuses @Task() on a field when the class is defined', () => {
    expect(() => {
      class Broken {
        // @ts-expect-error @Task() decorates methods only
        @Task() handler = async (): Promise<void> => {};
      }
      return Broken;
    }).toThrow(/@Task\(\) on Broken\.handler, which is not a method/);
  });

  it('refuses @Task() on a static method when the class is defined', () => {
    expect(() => {
      class Broken {
        @Task()
        static run(): void {}
      }
      return Broken;
    }).toThrow(/@Task\(\) on the static method Broken\.run/);
  });
});

// Two classes called MailTasks, each with a method called sendWelcome, in two modules: Celery's silent mix-up, here an
// error.
function mailTasksClass(body: string, id?: string) {
  @Injectable()
  class MailTasks {
    @Task(id)
    async sendWelcome(user: User): Promise<string> {
      return `${body} for ${user.email}`;
    }
  }
  return MailTasks;
}

function twoModules(ids: [string, string] | []) {
  const UsersMail = mailTasksClass('users welcome', ids[0]);
  const BillingMail = mailTasksClass('billing welcome', ids[1]);
  @Module({ providers: [UsersMail], exports: [UsersMail] })
  class UsersMailModule {}
  @Module({ providers: [BillingMail], exports: [BillingMail] })
  class BillingMailModule {}
  return { UsersMail, BillingMail, modules: [UsersMailModule, BillingMailModule] };
}

describe('same class and method names in two modules', () => {
  it('is a start-up error naming both when the default ids collide', async () => {
    const { modules } = twoModules([]);
    const error = await start(modules).catch((e: unknown) => e);
    expect(errorCode(error)).toBe('TASKQ_DUPLICATE_TASK');
    expect(String(error)).toContain('"MailTasks.sendWelcome"');
    expect(String(error)).toContain('MailTasks.sendWelcome (provided in UsersMailModule)');
    expect(String(error)).toContain('MailTasks.sendWelcome (provided in BillingMailModule)');
  });

  it('with explicit ids, each submitted method runs its own body', async () => {
    const { UsersMail, BillingMail, modules } = twoModules(['users.sendWelcome', 'billing.sendWelcome']);
    const app = await start(modules);
    const queue = app.get<TaskQueue>(getQueueToken());
    const users = await queue.submit(app.get(UsersMail).sendWelcome, ada);
    const billing = await queue.submit(app.get(BillingMail).sendWelcome, ada);
    expect([users.name, billing.name]).toEqual(['users.sendWelcome', 'billing.sendWelcome']);
    expect(await users.result({ timeout: 5_000 })).toBe('users welcome for ada@example.com');
    expect(await billing.result({ timeout: 5_000 })).toBe('billing welcome for ada@example.com');
  });

  it('is a start-up error when one task class is provided by two modules (two instances, one method)', async () => {
    const Shared = mailTasksClass('shared');
    @Module({ providers: [Shared] })
    class AModule {}
    @Module({ providers: [Shared] })
    class BModule {}
    const error = await start([AModule, BModule]).catch((e: unknown) => e);
    expect(errorCode(error)).toBe('TASKQ_NEST_AMBIGUOUS_PROVIDER');
    expect(String(error)).toMatch(
      /MailTasks\.sendWelcome \(provided in AModule\), MailTasks\.sendWelcome \(provided in BModule\)/,
    );
  });
});

describe('module set-up', () => {
  it('refuses a second TaskqModule.forRoot() in one application', async () => {
    const error = await start([TaskqModule.forRoot({ transport: memory() })]).catch((e: unknown) => e);
    expect(errorCode(error)).toBe('TASKQ_NEST_DUPLICATE_MODULE');
  });

  it('validates options where the module is declared, naming the option', () => {
    expect(() => TaskqModule.forRoot({ transport: {} as never })).toThrow(/option "transport"/);
    expect(() => TaskqModule.forRoot({ transport: memory(), queues: ['mail', 'mail'] })).toThrow(
      /option "queues\[1\]": the queue "mail" is declared twice/,
    );
    expect(() => TaskqModule.forRoot({ transport: memory(), worker: { shutdownTimeout: 'soon' } })).toThrow(
      /worker\.shutdownTimeout/,
    );
    expect(() =>
      TaskqModule.forRootAsync({ useFactory: () => ({ transport: memory() }), useClass: class {} as never }),
    ).toThrow(/exactly one of useFactory, useClass and useExisting/);
  });
});
