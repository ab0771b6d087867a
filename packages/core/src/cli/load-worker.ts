import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from '../errors.js';
import type { Worker } from '../worker.js';

/** What the CLI passes to a worker factory: the command-line overrides. */
export interface WorkerFactoryOptions {
  readonly concurrency?: number;
  readonly queues?: readonly string[];
}

/** A worker module default-exports a worker, or a (possibly async) factory returning one. */
export type WorkerModuleExport = Worker | ((options: WorkerFactoryOptions) => Worker | Promise<Worker>);

function isWorkerLike(value: unknown): value is Worker {
  // Duck-typed: the module may have been built against another installed copy of @taskq/core.
  return typeof value === 'object' && value !== null && typeof (value as Worker).start === 'function' && typeof (value as Worker).stop === 'function' && typeof (value as Worker).on === 'function';
}

/** Imports the module and returns its worker, applying overrides through its factory. */
export async function loadWorker(modulePath: string, overrides: WorkerFactoryOptions): Promise<Worker> {
  const url = pathToFileURL(resolve(process.cwd(), modulePath)).href;
  const module = (await import(url)) as { default?: unknown };
  const exported = module.default;
  if (isWorkerLike(exported)) {
    if (overrides.concurrency !== undefined || overrides.queues !== undefined) {
      throw new InvalidOptionError('--concurrency/--queues', `${modulePath} exports a ready-made worker; export a factory (options) => createWorker({ ...options }) to let the command line set concurrency and queues`);
    }
    return exported;
  }
  if (typeof exported === 'function') {
    // Only flags actually given: `{ ...defaults, ...options }` in the factory must not see `queues: undefined`.
    const given: { concurrency?: number; queues?: readonly string[] } = {};
    if (overrides.concurrency !== undefined) given.concurrency = overrides.concurrency;
    if (overrides.queues !== undefined) given.queues = overrides.queues;
    const worker = await (exported as (options: WorkerFactoryOptions) => unknown)(given);
    if (isWorkerLike(worker)) return worker;
    throw new InvalidOptionError('module', `the default export of ${modulePath} is a function but did not return a worker (createWorker(...))`);
  }
  throw new InvalidOptionError('module', `${modulePath} must default-export a worker (export default createWorker(...)) or a function returning one`);
}
