import { consoleLogger } from '../logger.js';
import { errorCode, InvalidOptionError } from '../errors.js';
import type { Worker } from '../worker.js';
import { loadWorker, type WorkerFactoryOptions } from './load-worker.js';
import type { Scheduler } from '../schedules/scheduler.js';
import { loadSchedules } from './schedules-command.js';

export interface WorkerCommandOptions extends WorkerFactoryOptions {
  readonly module: string;
  /** Drain timeout on SIGINT/SIGTERM, ms. */
  readonly shutdownTimeout: number;
  /** The prefix the worker's transport must use (`--prefix`, else `TASKQ_PREFIX`). */
  readonly prefix?: string;
  /** @defaultValue `'info'` */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** `<module>[#export]` of a scheduler to run beside the worker (`--schedules`). */
  readonly schedules?: string;
}

/**
 * A duration as people read it: whole milliseconds, with one decimal under
 * 10 ms (`performance.now()` differences such as 31.433552999999847 are noise
 * past that).
 */
export function roundMs(ms: number): number {
  return ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms);
}

/**
 * `taskq worker <module>`: runs the module's worker until SIGINT/SIGTERM, then
 * drains in-flight tasks; a second signal exits at once (unacked messages
 * return to the broker's queue).
 */
export async function runWorkerCommand(options: WorkerCommandOptions): Promise<number> {
  const logger = consoleLogger(options.logLevel ?? 'info');
  // The module reads TASKQ_PREFIX as it reads TASKQ_URL: --prefix reaches it that way.
  if (options.prefix !== undefined) process.env.TASKQ_PREFIX = options.prefix;
  const worker = await loadWorker(options.module, { concurrency: options.concurrency, queues: options.queues });
  checkPrefix(worker, options.prefix);
  const scheduler = options.schedules === undefined ? undefined : await loadScheduler(options.schedules);
  worker.on('completed', (event) => {
    logger.info('task completed', {
      id: event.id,
      task: event.name,
      attempt: event.attempt,
      durationMs: roundMs(event.durationMs),
      traceId: event.traceId,
    });
  });
  worker.on('failed', (event) => {
    const message = event.error instanceof Error ? event.error.message : String(event.error);
    logger.warn(`task failed${event.willRetry ? ', will retry' : ''}`, {
      id: event.id,
      task: event.name,
      attempt: event.attempt,
      durationMs: roundMs(event.durationMs),
      error: message,
      code: errorCode(event.error),
      traceId: event.traceId,
    });
  });
  worker.on('error', (event) => logger.error(event.message, { error: event.error }));

  let signals = 0;
  let resolveStopped: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => {
    resolveStopped = resolve;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn(`${signal} again: exiting now; unfinished tasks return to the queue`);
      process.exit(130);
    }
    logger.info(
      `${signal}: stopping, draining ${worker.active} task(s) (up to ${options.shutdownTimeout} ms; send the signal again to exit at once)`,
    );
    // The scheduler first: no tick is submitted by a process on its way out; another scheduler takes over.
    (scheduler ? scheduler.stop() : Promise.resolve())
      .then(() => worker.stop({ timeout: options.shutdownTimeout }))
      .then(
        () => resolveStopped(0),
        (error: unknown) => {
          logger.error('stopping the worker failed', { error });
          resolveStopped(1);
        },
      );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await worker.start();
  if (scheduler) {
    scheduler.on('error', (event) => logger.error(event.message, { error: event.error }));
    scheduler.on('leadership', ({ leader }) =>
      logger.info(leader ? 'this scheduler fires the ticks' : 'this scheduler stands by'),
    );
    await scheduler.start();
    logger.info('scheduler started', { schedules: scheduler.schedules.map((s) => s.id).join(',') });
  }
  logger.info('worker started', {
    queues: worker.queues.join(','),
    concurrency: worker.concurrency,
    prefix: worker.transport.prefix,
    transport: worker.transport.kind,
  });
  // A transport without sockets (memory) holds no handle: the command runs until a signal, not until the event loop is
  // empty.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const code = await stopped;
  clearInterval(keepAlive);
  logger.info('worker stopped');
  return code;
}

/**
 * With TASKQ_PREFIX (or --prefix) set, a module whose transport ignores it
 * would serve, and dead-letter, another prefix's queues: refused before start.
 */
function checkPrefix(worker: Worker, expected: string | undefined): void {
  const actual = worker.transport.prefix;
  if (expected === undefined || actual === undefined || worker.transport.kind === 'memory' || actual === expected)
    return;
  throw new InvalidOptionError(
    'prefix',
    `TASKQ_PREFIX (or --prefix) is ${JSON.stringify(expected)} but the module's transport uses prefix ${JSON.stringify(actual)}; create it with amqp({ url: process.env.TASKQ_URL, prefix: process.env.TASKQ_PREFIX })`,
  );
}

/** `--schedules`: the module's scheduler (an array of schedules needs the module's queue, so it is refused). */
async function loadScheduler(reference: string): Promise<Scheduler> {
  const loaded = await loadSchedules(reference);
  if (Array.isArray(loaded))
    throw new InvalidOptionError(
      '--schedules',
      `${reference} exports schedules, not a scheduler: export createScheduler({ queue, schedules }) (or a function returning it) so the schedules have a queue`,
    );
  return loaded as Scheduler;
}
