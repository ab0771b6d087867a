/**
 * The queue's public types, apart from its implementation: the queue, the
 * bound queue and the unit of work refer to one another only through here,
 * so no module imports back into one that imports it.
 */
import type { CodecSet } from './codecs/codec-set.js';
import type { MetaValue } from './envelope.js';
import type { TaskFunction, TaskRegistry } from './registry.js';
import type { ResultStore, TaskStatus } from './result-store.js';
import type { TaskHandle } from './task-handle.js';
import type { SubmitOptions } from './task-options.js';
import type { Transport, WorkerHeartbeat } from './transport.js';
import type { WatchOptions } from './watch.js';
import type { UnitOfWork, UnitOfWorkOptions } from './unit-of-work.js';

/** What submit-side middleware sees: the task before it is encoded. */
export interface Submission {
  readonly id: string;
  /** Registry id of the task. */
  readonly task: string;
  readonly args: readonly unknown[];
  readonly options: Readonly<SubmitOptions>;
  /** Context to carry to the worker (`ctx.meta` there): plain JSON values only. */
  readonly meta: Record<string, MetaValue>;
}

/**
 * Submit-side middleware. It runs in the submitter's async context (so it can
 * read an AsyncLocalStorage such as a request scope) before the task is
 * encoded; `next()` resolves once the task is encoded.
 */
export type SubmitMiddleware = (submission: Submission, next: () => Promise<void>) => Promise<void>;

/** Submits tasks. Obtain one with {@link createQueue}. */
export interface TaskQueue {
  /**
   * Encodes the call and hands it to the transport; resolves once the broker
   * confirmed it. The arguments are checked against `fn`'s parameters.
   */
  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Promise<TaskHandle<Awaited<ReturnType<F>>>>;
  /** Submits many calls of one task, pipelined; resolves when all are confirmed. */
  submitMany<F extends TaskFunction>(
    fn: F,
    argsList: readonly Parameters<F>[],
  ): Promise<TaskHandle<Awaited<ReturnType<F>>>[]>;
  /**
   * A view of this queue whose submits use `options` (queue, delay, attempts, priority, ...). Options the
   * transports would refuse (a delay over about 31 days, priority over 9, ...) make its submits reject with
   * an `InvalidOptionError` naming the option, before anything is staged or published.
   */
  with(options: SubmitOptions): TaskQueue;
  /** Adds submit-side middleware (to the underlying queue, shared by all its views). */
  use(middleware: SubmitMiddleware): void;
  /**
   * Runs `fn` in a unit of work: tasks submitted anywhere below it are
   * published when it resolves (in submit order, confirmed) and dropped when
   * it throws. Joins an enclosing unit of work.
   */
  unitOfWork<T>(fn: () => Promise<T> | T, options?: UnitOfWorkOptions): Promise<T>;
  /** Opens a unit of work for frameworks: `uow.run(next)`, then `uow.commit()` or `uow.rollback()`. */
  begin(options?: UnitOfWorkOptions): UnitOfWork;
  /** A view whose submits always join `uow` (a request's), even where AsyncLocalStorage context is lost. */
  bind(uow: UnitOfWork): BoundTaskQueue;
  /** The task's status from the store, or null for an unknown id. Needs `store`. */
  status(id: string): Promise<TaskStatus | null>;
  /** A handle for a task id (e.g. from a URL), to read its status or await its result. */
  handle(id: string): TaskHandle;
  /**
   * Status snapshots of task `id` as they change (state, attempts, progress), pushed by the result store: the
   * current one first, the last one finished (`succeeded`, `dead` or `cancelled`), then the iteration ends. Ends at once for an
   * unknown id. Needs a `store` with `subscribe()` (both of taskq's stores have it). Snapshots do not say `lost`:
   * `status(id)` does.
   */
  watch(id: string, options?: WatchOptions): AsyncIterable<TaskStatus>;
  /**
   * Cancels a task. With a result store (that has `cancel`): a queued,
   * delayed or retrying task is marked `cancelled` and never runs; a running
   * one has its `currentTask().signal` aborted (within about a second, in
   * whichever process runs it) and is neither retried nor dead-lettered.
   * Resolves true if the task will not run (again), false if it already
   * finished (or is unknown). Without a store only a running task can be
   * cancelled (its signal is aborted) and it resolves false: nothing says
   * whether it ran. Inside a unit of work the cancel happens at commit.
   */
  cancel(id: string): Promise<boolean>;
  /**
   * The live workers of the transport's prefix: every worker is asked for a
   * heartbeat and the answers heard within `wait` ms (default 1000) are
   * returned. A worker that died (or is cut off) does not answer.
   */
  workers(options?: { readonly wait?: number }): Promise<WorkerHeartbeat[]>;
  /**
   * Pauses a logical queue for every worker of the transport's prefix: they
   * stop starting its tasks (within about 2 s) and finish what they run;
   * submits still succeed. It stays paused across worker restarts until
   * {@link resume}. Needs a transport with a control plane (`amqp`, `memory`).
   */
  pause(queue: string): Promise<void>;
  /** Lets the workers take tasks from a paused queue again. */
  resume(queue: string): Promise<void>;
  /** Whether the logical queue is paused now. */
  isPaused(queue: string): Promise<boolean>;
  /** Stops accepting submits and releases the transport. */
  close(): Promise<void>;
  readonly registry: TaskRegistry;
  readonly transport: Transport;
  /** @internal The queue's argument codecs (taskq's own packages only). */
  readonly codecs: CodecSet;
  readonly store: ResultStore | undefined;
}

/**
 * A queue whose submits always join one unit of work (a web request's), so
 * they are published only when it commits. The binding is explicit, so it
 * holds even where a library loses the AsyncLocalStorage context.
 */
export interface BoundTaskQueue extends TaskQueue {
  /** The bound unit of work; `uow.tasks` lists what was submitted so far. */
  readonly uow: UnitOfWork;
  /** A view with these submit options, still bound to the same unit of work. */
  with(options: SubmitOptions): BoundTaskQueue;
}
