import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Body, Controller, Inject, Injectable, type INestApplication, Post } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import type { TaskQueue } from '@taskq/core';
import { Accepted, InjectQueue, TaskqModule } from '@taskq/nest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Mailer, MailModule, MailTasks, type User } from './fixtures/mail.js';
import { RABBIT_URL, TestBroker } from './support/broker.js';
import { compileFixtures } from './support/fixtures.js';
import { eventually } from '../../../test-support/wait.js';

/** The web side: a service with @InjectQueue() that submits a task provider's method. */
@Injectable()
class UsersService {
  constructor(
    @InjectQueue() private readonly queue: TaskQueue,
    @Inject(MailTasks) private readonly mail: MailTasks,
  ) {}

  register(user: User) {
    return this.queue.submit(this.mail.sendWelcome, user);
  }

  digest(n: number) {
    return this.queue.submit(this.mail.slowDigest, n);
  }
}

@Controller('users')
class UsersController {
  constructor(@Inject(UsersService) private readonly users: UsersService) {}

  @Post()
  @Accepted()
  register(@Body() user: User) {
    return this.users.register(user);
  }
}

let fixtures: ReturnType<typeof compileFixtures>;
beforeAll(() => {
  fixtures = compileFixtures();
});
afterAll(() => fixtures.remove());

interface WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/**
 * Forks the worker application (test/fixtures/worker-main.ts, transpiled with decorator metadata) and waits until it
 * consumes.
 */
async function forkWorker(broker: TestBroker, outFile: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [join(fixtures.dir, 'worker-main.js')], {
    env: {
      ...process.env,
      TASKQ_URL: RABBIT_URL,
      TASKQ_PREFIX: broker.prefix,
      OUT_FILE: outFile,
      MAIL_FROM: 'worker@example.com',
      SLOW_MS: '600',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await eventually(
    () => output.includes('worker ready') || child.exitCode !== null,
    'the worker process to start',
    30_000,
  );
  if (!output.includes('worker ready')) throw new Error(`the worker process failed to start:\n${output}`);
  return { child, exited, output: () => output };
}

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

describe('a worker application in another process, on RabbitMQ', () => {
  let cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  async function setUp(): Promise<{
    app: INestApplication;
    url: string;
    worker: WorkerProcess;
    outFile: string;
    broker: TestBroker;
  }> {
    const broker = new TestBroker();
    cleanup.push(() => broker.cleanup());
    const outFile = join(fixtures.dir, `out-${broker.prefix}.txt`);
    const worker = await forkWorker(broker, outFile);
    cleanup.push(() => {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    });
    const moduleRef = await Test.createTestingModule({
      imports: [TaskqModule.forRoot({ transport: broker.transport() }), MailModule],
      providers: [UsersService],
      controllers: [UsersController],
    }).compile();
    const app = moduleRef.createNestApplication(new ExpressAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    cleanup.push(() => app.close());
    return { app, url: await app.getUrl(), worker, outFile, broker };
  }

  it('runs a submitted @Task() method on the worker container’s MailTasks, with its injected Mailer', async () => {
    const { app, url, worker, outFile } = await setUp();
    const response = await fetch(`${url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 1, name: 'Ada', email: 'ada@example.com' }),
    });
    expect(response.status).toBe(202);
    await eventually(() => lines(outFile).length > 0, 'the worker to send the mail').catch((error: unknown) => {
      throw new Error(`${String(error)}; worker output:\n${worker.output()}`);
    });
    // "worker@example.com" is the MAIL_FROM of the worker's container: the Mailer injected there did the work, not the
    // web side's.
    expect(lines(outFile)).toEqual(['sent worker@example.com -> ada@example.com: Welcome, Ada!']);
    expect(app.get(Mailer).sent).toEqual([]);
  });

  it('drains in-flight tasks on SIGTERM (enableShutdownHooks): every started task finishes, none goes back to the queue', async () => {
    const { app, worker, outFile, broker } = await setUp();
    const users = app.get(UsersService);
    for (let n = 1; n <= 4; n++) await users.digest(n);
    await eventually(
      () => lines(outFile).filter((l) => l.startsWith('start')).length === 4,
      'four tasks to be in flight',
    );
    worker.child.kill('SIGTERM');
    const exit = await worker.exited;
    const out = lines(outFile);
    const done = out.filter((l) => l.startsWith('done')).length;
    console.log(
      `SIGTERM with 4 in flight: started ${out.filter((l) => l.startsWith('start')).length}, finished ${done}, exit ${exit.signal ?? exit.code}`,
    );
    expect(done).toBe(4);
    expect(out.at(-1)).toBe('context closed');
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
    expect(await broker.depth('default')).toBe(0);
  });
});
