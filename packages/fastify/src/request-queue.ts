import type {
  CodecSet,
  ResultStore,
  SubmitMiddleware,
  SubmitOptions,
  TaskFunction,
  TaskHandle,
  TaskQueue,
  TaskRegistry,
  TaskStatus,
  Transport,
  UnitOfWork,
  UnitOfWorkOptions,
} from '@taskq/core';
import { RequestQueueMisuseError, RequestSettledError } from './errors.js';

/**
 * The queue as a request sees it (`request.taskQueue`): every submit joins the
 * request's unit of work, so it is published only when the request succeeds.
 * The binding is explicit, so it holds even where a library loses the
 * AsyncLocalStorage context between middleware.
 */
export interface RequestTaskQueue extends TaskQueue {
  /** The request's unit of work; `unitOfWork.tasks` lists what was submitted so far. */
  readonly unitOfWork: UnitOfWork;
  /** A view with these submit options, still bound to the request. */
  with(options: SubmitOptions): RequestTaskQueue;
}

/** @internal Binds `base` to `uow`; shared by `request.taskQueue` and its `with()` views. */
export class BoundQueue implements RequestTaskQueue {
  readonly #base: TaskQueue;
  readonly unitOfWork: UnitOfWork;

  constructor(base: TaskQueue, uow: UnitOfWork) {
    this.#base = base;
    this.unitOfWork = uow;
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
    return this.#inRequest(() => this.#base.submit(fn, ...args));
  }

  submitMany<F extends TaskFunction>(fn: F, argsList: readonly Parameters<F>[]): Promise<TaskHandle<Awaited<ReturnType<F>>>[]> {
    return this.#inRequest(() => this.#base.submitMany(fn, argsList));
  }

  with(options: SubmitOptions): RequestTaskQueue {
    return new BoundQueue(this.#base.with(options), this.unitOfWork);
  }

  /** Joins the request's unit of work: `fn`'s submits are published with the request's. */
  transaction<T>(fn: () => Promise<T> | T, options?: UnitOfWorkOptions): Promise<T> {
    return this.#inRequest(() => this.#base.transaction(fn, options));
  }

  begin(options?: UnitOfWorkOptions): UnitOfWork {
    return this.#base.begin(options);
  }

  use(_middleware: SubmitMiddleware): void {
    throw new RequestQueueMisuseError('use', 'add submit middleware to the application queue once at start-up; per request it would pile up');
  }

  status(id: string): Promise<TaskStatus | null> {
    return this.#base.status(id);
  }

  handle(id: string): TaskHandle {
    return this.#base.handle(id);
  }

  close(): Promise<void> {
    return Promise.reject(new RequestQueueMisuseError('close', 'the application owns the queue; close it (or the server) at shutdown'));
  }

  #inRequest<T>(fn: () => Promise<T>): Promise<T> {
    // A settled unit of work is no longer "current", so core would publish at once: refuse instead of silently escaping the request.
    if (this.unitOfWork.state !== 'open') return Promise.reject(new RequestSettledError(this.unitOfWork.state));
    return this.unitOfWork.run(fn);
  }
}
