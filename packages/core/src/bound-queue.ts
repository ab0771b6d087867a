import type { CodecSet } from './codecs/codec-set.js';
import { TaskqError } from './errors.js';
import type { TaskFunction, TaskRegistry } from './registry.js';
import type { ResultStore, TaskStatus } from './result-store.js';
import type { TaskHandle } from './task-handle.js';
import type { BoundTaskQueue, SubmitMiddleware, TaskQueue } from './task-queue.js';
import type { SubmitOptions } from './task-options.js';
import type { Transport, WorkerHeartbeat } from './transport.js';
import type { WatchOptions } from './watch.js';
import type { UnitOfWork, UnitOfWorkOptions } from './unit-of-work.js';

/** A bound queue was used after its unit of work settled (e.g. after the response started). */
export class UnitOfWorkSettledError extends TaskqError {
  constructor(state: string) {
    super(
      'TASKQ_REQUEST_SETTLED',
      `the request's unit of work is already ${state} (the response has started): submit before responding, or submit through the application queue to publish outside the request`,
    );
  }
}

/** An operation that belongs to the application queue was called on a bound (per-request) view. */
export class BoundQueueMisuseError extends TaskqError {
  constructor(method: string, advice: string) {
    super('TASKQ_REQUEST_QUEUE_MISUSE', `taskQueue.${method}() is not available on a request's queue view: ${advice}`);
  }
}

class BoundQueue implements BoundTaskQueue {
  readonly #base: TaskQueue;
  readonly uow: UnitOfWork;

  constructor(base: TaskQueue, uow: UnitOfWork) {
    this.#base = base;
    this.uow = uow;
  }

  get registry(): TaskRegistry {
    return this.#base.registry;
  }

  get transport(): Transport {
    return this.#base.transport;
  }

  get codecs(): CodecSet {
    return this.#base.codecs;
  }

  get store(): ResultStore | undefined {
    return this.#base.store;
  }

  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Promise<TaskHandle<Awaited<ReturnType<F>>>> {
    return this.#inUnit(() => this.#base.submit(fn, ...args));
  }

  submitMany<F extends TaskFunction>(
    fn: F,
    argsList: readonly Parameters<F>[],
  ): Promise<TaskHandle<Awaited<ReturnType<F>>>[]> {
    return this.#inUnit(() => this.#base.submitMany(fn, argsList));
  }

  with(options: SubmitOptions): BoundTaskQueue {
    return new BoundQueue(this.#base.with(options), this.uow);
  }

  /** Joins the bound unit of work: `fn`'s submits are published with the others. */
  unitOfWork<T>(fn: () => Promise<T> | T, options?: UnitOfWorkOptions): Promise<T> {
    return this.#inUnit(() => this.#base.unitOfWork(fn, options));
  }

  begin(options?: UnitOfWorkOptions): UnitOfWork {
    return this.#base.begin(options);
  }

  bind(uow: UnitOfWork): BoundTaskQueue {
    return this.#base.bind(uow);
  }

  use(_middleware: SubmitMiddleware): void {
    throw new BoundQueueMisuseError(
      'use',
      'add submit middleware to the application queue once at start-up; per request it would pile up',
    );
  }

  status(id: string): Promise<TaskStatus | null> {
    return this.#base.status(id);
  }

  handle(id: string): TaskHandle {
    return this.#base.handle(id);
  }

  watch(id: string, options?: WatchOptions): AsyncIterable<TaskStatus> {
    return this.#base.watch(id, options);
  }

  cancel(id: string): Promise<boolean> {
    // Staged in the bound unit of work, like a submit (where AsyncLocalStorage context is lost).
    return this.uow.run(() => this.#base.cancel(id));
  }

  workers(options?: { readonly wait?: number }): Promise<WorkerHeartbeat[]> {
    return this.#base.workers(options);
  }

  pause(queue: string): Promise<void> {
    return this.#base.pause(queue);
  }

  resume(queue: string): Promise<void> {
    return this.#base.resume(queue);
  }

  isPaused(queue: string): Promise<boolean> {
    return this.#base.isPaused(queue);
  }

  close(): Promise<void> {
    return Promise.reject(
      new BoundQueueMisuseError('close', 'the application owns the queue; close it (or the server) at shutdown'),
    );
  }

  #inUnit<T>(fn: () => Promise<T>): Promise<T> {
    // A settled unit of work must not be escaped silently: refuse rather than publish at once.
    if (this.uow.state !== 'open') return Promise.reject(new UnitOfWorkSettledError(this.uow.state));
    return this.uow.run(fn);
  }
}

/** @internal Used by `queue.bind(uow)`. */
export function bindQueue(base: TaskQueue, uow: UnitOfWork): BoundTaskQueue {
  return new BoundQueue(base, uow);
}
