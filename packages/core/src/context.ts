import { AsyncLocalStorage } from 'node:async_hooks';
import type { MetaValue } from './envelope.js';
import { NoTaskContextError } from './errors.js';
import type { ProgressValue } from './result-store.js';

/** What a running task can learn about itself, from anywhere below it. */
export interface CurrentTask {
  /** Task id, the same one `submit` returned. */
  readonly id: string;
  /** Registry id of the task, e.g. `mail.sendWelcomeMail`. */
  readonly name: string;
  /** 1 for the first run, 2 for the first retry, ... */
  readonly attempt: number;
  /** How many attempts the task has in total. */
  readonly maxAttempts: number;
  /** Logical queue it was consumed from. */
  readonly queue: string;
  /** Aborted when the attempt times out or the worker is forced to stop. */
  readonly signal: AbortSignal;
  /** Context the submitting side put into the envelope. */
  readonly meta: Readonly<Record<string, MetaValue>>;
  /** A value set by middleware for this task (a transaction, a logger, a DI scope). */
  get<T = unknown>(key: string | symbol): T | undefined;
  set(key: string | symbol, value: unknown): void;
  /**
   * Reports how far the task got: a number from 0 to 100, or a JSON object. Shown as `progress` by `queue.status()`
   * and `queue.watch()`, and emitted as the worker's `progress` event. Cheap to call in a tight loop: the result store
   * is written at most a few times a second, and the last value before the task ends is always written.
   */
  progress(value: ProgressValue): void;
}

const storage = new AsyncLocalStorage<CurrentTask>();

/** The task running in this async context; throws outside a task. */
export function currentTask(): CurrentTask {
  const task = storage.getStore();
  if (!task) throw new NoTaskContextError();
  return task;
}

/** The task running in this async context, or undefined outside a task. */
export function maybeCurrentTask(): CurrentTask | undefined {
  return storage.getStore();
}

/** @internal Runs `fn` with `task` as the current task. */
export function runInTask<T>(task: CurrentTask, fn: () => T): T {
  return storage.run(task, fn);
}
