import { AsyncLocalStorage } from 'node:async_hooks';
import { UnitOfWorkClosedError } from './errors.js';
import type { TaskHandle } from './task-handle.js';
import type { OutgoingMessage } from './transport.js';

/** A task encoded and ready to publish. */
export interface PreparedTask {
  readonly handle: TaskHandle;
  readonly message: OutgoingMessage;
  /** The trace context its submit carried (in the body too); undefined when nobody traced the submit. */
  readonly trace?: Readonly<Record<string, string>>;
}

/** Hands staged tasks somewhere durable right away (e.g. an outbox table in the same database transaction). */
export type StageTasks = (tasks: readonly PreparedTask[]) => Promise<void>;

/** Options of `queue.begin()` / `queue.unitOfWork()`. */
export interface UnitOfWorkOptions {
  /**
   * Takes each submitted task at once instead of buffering it in memory;
   * @taskq/typeorm uses it to write tasks to its outbox through the open
   * database transaction, so commit and publish are atomic.
   */
  readonly stage?: StageTasks;
}

export type UnitOfWorkState = 'open' | 'committed' | 'rolled-back';

interface Buffered {
  readonly task: PreparedTask;
  readonly publish: (tasks: readonly PreparedTask[]) => Promise<void>;
  readonly release: () => Promise<void>;
}

/**
 * Tasks submitted while a unit of work is open (anywhere below `run()`, found
 * through AsyncLocalStorage) are held back: `commit()` publishes them in
 * submit order and resolves once the broker confirmed all; `rollback()`
 * drops them. Ids exist from the submit on, so a handler can answer with the
 * id before anything was published.
 *
 * Without an outbox (`stage`), a crash between the caller's own commit and
 * `commit()` here loses the buffered tasks; see docs/unit-of-work-and-outbox.md.
 */
export class UnitOfWork {
  readonly #buffer: Buffered[] = [];
  readonly #stage: StageTasks | undefined;
  readonly #handles: TaskHandle[] = [];
  readonly #releases: Array<() => Promise<void>> = [];
  // Actions that must happen only if the unit of work commits (a cancel); dropped on rollback.
  readonly #onCommit: Array<() => Promise<void>> = [];
  #state: UnitOfWorkState = 'open';
  #commitFailed = false;

  constructor(options: UnitOfWorkOptions = {}) {
    this.#stage = options.stage;
  }

  get state(): UnitOfWorkState {
    return this.#state;
  }

  /** Handles of the tasks submitted so far, in submit order. */
  get tasks(): readonly TaskHandle[] {
    return this.#handles;
  }

  /** Runs `fn` with this unit of work as the current one. */
  run<T>(fn: () => T): T {
    return storage.run(this, fn);
  }

  /** @internal Called by the queue on submit. */
  async add(tasks: readonly PreparedTask[], publish: Buffered['publish'], release: Buffered['release']): Promise<void> {
    this.#assertOpen('submit into');
    if (this.#stage) {
      await this.#stage(tasks);
      // Staged tasks are the stage's to publish, but keys they claimed must still be given back on rollback.
      this.#releases.push(release);
    } else {
      for (const task of tasks) this.#buffer.push({ task, publish, release });
    }
    for (const task of tasks) this.#handles.push(task.handle);
  }

  /** @internal Runs `action` after the submitted tasks are published at commit; a rollback drops it. */
  afterCommit(action: () => Promise<void>): void {
    this.#assertOpen('add to');
    this.#onCommit.push(action);
  }

  /** Publishes everything submitted, in order; resolves once all are confirmed. */
  async commit(): Promise<void> {
    this.#assertOpen('commit');
    this.#state = 'committed';
    this.#releases.length = 0;
    const buffered = this.#buffer.splice(0);
    try {
      // Consecutive tasks of the same queue go out as one pipelined batch.
      let start = 0;
      while (start < buffered.length) {
        let end = start + 1;
        while (end < buffered.length && buffered[end].publish === buffered[start].publish) end++;
        await buffered[start].publish(buffered.slice(start, end).map((b) => b.task));
        start = end;
      }
      for (const action of this.#onCommit.splice(0)) await action();
    } catch (error) {
      this.#commitFailed = true;
      throw error;
    }
  }

  /**
   * Drops everything submitted. Safe to call after a failed commit; after a successful one there is nothing left to
   * drop.
   */
  async rollback(): Promise<void> {
    if (this.#state === 'rolled-back' || (this.#state === 'committed' && !this.#commitFailed)) return;
    this.#state = 'rolled-back';
    this.#onCommit.length = 0;
    const releases = [...this.#buffer.splice(0).map((entry) => entry.release), ...this.#releases.splice(0)];
    // Keys are given back in the background, not awaited: a store in the same database may be waiting for the very
    // transaction that is rolling back (SQLite's single writer) to finish. A key that cannot be given back is pruned
    // later.
    for (const release of releases) release().catch(() => {});
  }

  #assertOpen(action: string): void {
    if (this.#state !== 'open')
      throw new UnitOfWorkClosedError(`cannot ${action} a unit of work that is already ${this.#state}`);
  }
}

const storage = new AsyncLocalStorage<UnitOfWork>();

/** The unit of work open in this async context, if any. */
export function currentUnitOfWork(): UnitOfWork | undefined {
  const uow = storage.getStore();
  return uow && uow.state === 'open' ? uow : undefined;
}

/**
 * Runs `fn` in a unit of work: commits (publishes) when it resolves, drops
 * its tasks when it throws. Inside an open unit of work it joins that one.
 */
export async function inUnitOfWork<T>(fn: () => Promise<T> | T, options?: UnitOfWorkOptions): Promise<T> {
  if (currentUnitOfWork()) return fn();
  const uow = new UnitOfWork(options);
  let result: T;
  try {
    result = await uow.run(fn);
  } catch (error) {
    await uow.rollback();
    throw error;
  }
  await uow.commit();
  return result;
}
