import { createWorker, type Transport, type Worker } from '@taskq/core';
import { mailer } from './mailer.js';
import { describe, say, shortId } from './print.js';
import { requestContext } from './request-context.js';
import { registry } from './tasks/index.js';
import { brokerUrl, demoQueue, rabbitmq } from './transport.js';

/** What the demo passes in (a shared memory transport), and what `taskq worker --concurrency/--queues` passes. */
export interface DemoWorkerOptions {
  readonly transport?: Transport;
  readonly concurrency?: number;
  readonly queues?: readonly string[];
}

/** A message the worker sends to the demo over IPC when the demo forked it. */
export type WorkerReport =
  | { readonly type: 'ready' }
  | { readonly type: 'completed'; readonly id: string }
  | { readonly type: 'dead'; readonly id: string; readonly reason: string };

/**
 * Builds the quick start's worker. The demo calls it in-process with the
 * memory transport; `npx taskq worker examples/quickstart/dist/worker.js`
 * calls it with the command-line flags and it connects to `TASKQ_URL`.
 */
export default function createDemoWorker(options: DemoWorkerOptions = {}): Worker {
  const worker = createWorker({
    registry,
    transport: options.transport ?? transportForCli(),
    concurrency: options.concurrency ?? 4,
    queues: options.queues ?? [demoQueue()],
  });

  // Per process: open what every task needs, once; close it after the last task.
  worker.onStartup(async () => {
    await mailer.connect();
    say('worker', 'onStartup: mailer connected (per-process state)');
  });
  worker.onShutdown(async () => {
    const sent = await mailer.close();
    say('worker', `onShutdown: mailer closed after ${sent} mail(s)`);
  });

  // Per task: restore the submitter's request scope from the task's meta, so the app's log() sees the request id.
  worker.use(async (task, next) => {
    const requestId = typeof task.meta.requestId === 'string' ? task.meta.requestId : undefined;
    await requestContext.run({ requestId }, next);
  });

  worker.on('active', (event) => {
    const age = Date.now() - event.enqueuedAt.getTime();
    say('worker', `active    ${event.name} ${shortId(event.id)} attempt ${event.attempt} (submitted ${age} ms ago)`);
  });
  worker.on('completed', (event) => {
    say(
      'worker',
      `completed ${event.name} ${shortId(event.id)} attempt ${event.attempt} in ${Math.round(event.durationMs)} ms: ${describe(event.result)}`,
    );
  });
  worker.on('failed', (event) => {
    const next = event.willRetry ? `retrying in ${event.retryInMs} ms` : 'no attempts left';
    say(
      'worker',
      `failed    ${event.name} ${shortId(event.id)} attempt ${event.attempt}: ${describe(event.error)}; ${next}`,
    );
  });
  worker.on('dead', (event) => {
    say('worker', `dead      ${event.name ?? '?'} ${shortId(event.id)} (${event.reason}): ${describe(event.error)}`);
  });

  if (process.env.DEMO_IPC === '1' && process.send) reportToDemo(worker);
  return worker;
}

function transportForCli(): Transport {
  const url = brokerUrl();
  if (!url) {
    // A memory transport only connects code inside one process; a worker of its own would never receive anything.
    throw new Error(
      'set TASKQ_URL (e.g. amqp://guest:guest@127.0.0.1:5672): a worker in its own process needs RabbitMQ',
    );
  }
  return rabbitmq(url);
}

/** The demo forked this process (through the taskq CLI): tell it when the worker is ready and what completed. */
function reportToDemo(worker: Worker): void {
  const send = (report: WorkerReport): void => {
    process.send?.(report);
  };
  // Ready means consuming: start() sets the state to running once the consumer is attached.
  worker.onStartup(() => {
    const poll = setInterval(() => {
      if (worker.state === 'running') send({ type: 'ready' });
      if (worker.state !== 'starting') clearInterval(poll);
    }, 10);
  });
  worker.on('completed', (event) => send({ type: 'completed', id: event.id }));
  worker.on('dead', (event) => send({ type: 'dead', id: event.id, reason: event.reason }));
  // If the demo goes away, stop like the CLI does on SIGTERM instead of running on as an orphan.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
