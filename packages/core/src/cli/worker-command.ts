import { consoleLogger } from '../logger.js';
import { errorCode } from '../errors.js';
import { loadWorker, type WorkerFactoryOptions } from './load-worker.js';

export interface WorkerCommandOptions extends WorkerFactoryOptions {
  readonly module: string;
  /** Drain timeout on SIGINT/SIGTERM, ms. */
  readonly shutdownTimeout: number;
}

/**
 * `taskq worker <module>`: runs the module's worker until SIGINT/SIGTERM, then
 * drains in-flight tasks; a second signal exits at once (unacked messages
 * return to the broker's queue).
 */
export async function runWorkerCommand(options: WorkerCommandOptions): Promise<number> {
  const logger = consoleLogger('info');
  const worker = await loadWorker(options.module, { concurrency: options.concurrency, queues: options.queues });
  worker.on('failed', (event) => {
    const message = event.error instanceof Error ? event.error.message : String(event.error);
    logger.warn(`task failed${event.willRetry ? ', will retry' : ''}`, { id: event.id, task: event.name, attempt: event.attempt, error: message, code: errorCode(event.error) });
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
    logger.info(`${signal}: stopping, draining ${worker.active} task(s) (up to ${options.shutdownTimeout} ms; send the signal again to exit at once)`);
    worker.stop({ timeout: options.shutdownTimeout }).then(
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
  logger.info('worker started', { queues: worker.queues.join(','), concurrency: worker.concurrency, transport: worker.transport.kind });
  const code = await stopped;
  logger.info('worker stopped');
  return code;
}
