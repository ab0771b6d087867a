import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createQueue, errorCode, memory, type TaskHandle, type TaskQueue } from '@taskq/core';
import { Completions } from './completions.js';
import { mailer } from './mailer.js';
import { describe, say, shortId } from './print.js';
import { requestContext } from './request-context.js';
import { billing, mail, registry, reminders, reports } from './tasks/index.js';
import type { User } from './tasks/mail.js';
import { brokerUrl, demoQueue, displayUrl, rabbitmq } from './transport.js';
import createDemoWorker, { type WorkerReport } from './worker.js';

/** The demo gives up (exit code 1) rather than hang. */
const TIME_LIMIT_MS = 15_000;
const WAIT_MS = 12_000;

const ada: User = { id: 1, name: 'Ada', email: 'ada@example.com', signedUpAt: new Date('2026-01-15T09:30:00Z') };

async function main(): Promise<void> {
  const url = brokerUrl();
  say('demo', 'taskq quick start');
  if (url) say('demo', `transport: amqp, RabbitMQ at ${displayUrl(url)}; the worker runs in a child process`);
  else say('demo', 'transport: memory (in-process, NOT durable); set TASKQ_URL=amqp://... to use RabbitMQ');
  say('demo', `queue: ${demoQueue()}; tasks in the registry: ${registry.ids().join(', ')}`);

  // Transparency: a task is still an ordinary function; called directly it runs here and now.
  await mailer.connect();
  say('web', `direct call, no queue: ${await mail.sendWelcomeMail(ada)}`);
  await mailer.close();

  if (url) await runWithRabbitMq(url);
  else await runInMemory();
}

/** Web side and worker in this process, on the memory transport: no services needed. */
async function runInMemory(): Promise<void> {
  const transport = memory();
  const queue = createQueue({ registry, transport, defaults: { queue: demoQueue() } });
  const worker = createDemoWorker({ transport });
  const outcomes = new Completions();
  worker.on('completed', (event) => outcomes.completed(event.id));
  worker.on('dead', (event) => outcomes.dead(event.id, event.reason));

  await worker.start();
  say('demo', 'worker started in this process');
  const handles = await submitTasks(queue);
  await outcomes.waitFor(ids(handles), WAIT_MS);
  say('demo', `all ${handles.length} tasks completed; stopping the worker`);
  await worker.stop({ timeout: 5_000 });
  await queue.close();
}

/** Web side here, worker in a child process running `taskq worker dist/worker.js`, RabbitMQ in between. */
async function runWithRabbitMq(url: string): Promise<void> {
  const outcomes = new Completions();
  const { child, ready } = forkWorker(outcomes);
  const queue = createQueue({ registry, transport: rabbitmq(url), defaults: { queue: demoQueue() } });
  try {
    await ready;
    const handles = await submitTasks(queue);
    await outcomes.waitFor(ids(handles), WAIT_MS);
    say('demo', `all ${handles.length} tasks completed; sending SIGTERM to the worker`);
  } finally {
    await queue.close();
    const code = await stopWorker(child);
    say('demo', `worker process exited with code ${code}`);
    if (code !== 0) process.exitCode = 1;
  }
}

/** What the web side of an app does: submit tasks, with options and request context. */
async function submitTasks(queue: TaskQueue): Promise<TaskHandle<string>[]> {
  // Context across the hop: every task submitted inside a request carries that request's id in its meta.
  queue.use(async (submission, next) => {
    const requestId = requestContext.getStore()?.requestId;
    if (requestId) submission.meta.requestId = requestId;
    await next();
  });

  const welcome = await requestContext.run({ requestId: 'req-7f3a' }, () => queue.submit(mail.sendWelcomeMail, ada));
  say('web', `submitted ${welcome.name} ${shortId(welcome.id)} inside request req-7f3a`);

  const plan = await queue.submit(billing.sendWelcomeMail, { email: ada.email, plan: 'pro' });
  say('web', `submitted ${plan.name} ${shortId(plan.id)} (same function name, another module: another task)`);

  const report = await queue
    .with({ attempts: 3, backoff: { type: 'fixed', delay: '200ms' } })
    .submit(reports.renderMonthlyReport, '2026-01');
  say('web', `submitted ${report.name} ${shortId(report.id)} with({ attempts: 3, backoff: fixed 200ms })`);

  const reminder = await queue
    .with({ delay: '1s' })
    .submit(reminders.sendReminder, ada.email, 'Finish setting up your profile');
  say('web', `submitted ${reminder.name} ${shortId(reminder.id)} with({ delay: '1s' })`);

  // Unit of work: inside queue.unitOfWork() tasks are published only if the function completes.
  try {
    await queue.unitOfWork(async () => {
      const dropped = await queue.submit(mail.sendWelcomeMail, {
        ...ada,
        id: 2,
        name: 'Bob',
        email: 'bob@example.com',
      });
      say('web', `submitted ${dropped.name} ${shortId(dropped.id)} inside queue.unitOfWork(), then the handler fails`);
      throw new Error('could not save user bob@example.com');
    });
  } catch (error) {
    say(
      'web',
      `unit of work rolled back (${describe(error)}): the task for bob@example.com was dropped, never published`,
    );
  }

  // Parameter handling: what cannot travel is refused at submit time, with the path of the argument.
  const userWithSocket = { ...ada, connection: new Socket() };
  try {
    await queue.submit(mail.sendWelcomeMail, userWithSocket);
    throw new Error('a live socket was accepted as a task argument');
  } catch (error) {
    if (errorCode(error) !== 'TASKQ_UNSERIALIZABLE_ARGUMENT') throw error;
    say('web', `refused at submit (${errorCode(error)}): ${describe(error)}`);
  }
  return [welcome, plan, report, reminder];
}

function ids(handles: readonly TaskHandle[]): string[] {
  return handles.map((handle) => handle.id);
}

/** Starts the worker exactly as a user would, `taskq worker dist/worker.js`, with an IPC channel for its reports. */
function forkWorker(outcomes: Completions): { child: ChildProcess; ready: Promise<void> } {
  const require = createRequire(import.meta.url);
  const pkg = require('@taskq/core/package.json') as { bin: { taskq: string } };
  const cli = join(dirname(require.resolve('@taskq/core/package.json')), pkg.bin.taskq);
  const workerModule = fileURLToPath(new URL('./worker.js', import.meta.url));
  say('demo', `starting the worker: taskq worker ${relative(process.cwd(), workerModule)}`);
  const child = fork(cli, ['worker', workerModule], { env: { ...process.env, DEMO_IPC: '1' } });

  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker did not start within ${WAIT_MS} ms`)), WAIT_MS);
    child.on('message', (report: WorkerReport) => {
      if (report.type === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (report.type === 'completed') outcomes.completed(report.id);
      else outcomes.dead(report.id, report.reason);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const error = new Error(`the worker process exited early (code ${code}, signal ${signal})`);
      reject(error);
      outcomes.fail(error);
    });
  });
  return { child, ready };
}

/** SIGTERM: the CLI stops consuming, drains in-flight tasks, runs onShutdown and exits. */
async function stopWorker(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), 8_000);
  const [code] = await exited;
  clearTimeout(kill);
  return code;
}

const limit = setTimeout(() => {
  console.error(`demo: not finished after ${TIME_LIMIT_MS / 1000} s, giving up`);
  process.exit(1);
}, TIME_LIMIT_MS);
limit.unref();

main().then(
  () => say('demo', process.exitCode ? 'finished with errors' : 'done: worker stopped, queue closed'),
  (error: unknown) => {
    console.error(`demo failed: ${describe(error)}${errorCode(error) ? ` (${errorCode(error)})` : ''}`);
    process.exitCode = 1;
  },
);
