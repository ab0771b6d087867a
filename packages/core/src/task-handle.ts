import { NoControlPlaneError, ResultTimeoutError, TaskCancelledError, TaskqError } from './errors.js';
import type { TaskStatus } from './result-store.js';
import { parseDuration } from './task-options.js';

/** Options of {@link TaskHandle.result}. */
export interface ResultOptions {
  /**
   * How long to wait for the task to finish.
   * @defaultValue `30_000`
   */
  readonly timeout?: number | string;
  /** How often to look. @defaultValue `50` */
  readonly interval?: number;
}

/** The task ended in the dead-letter queue instead of returning. */
export class TaskFailedError extends TaskqError {
  readonly taskId: string;
  readonly taskError: TaskStatus['error'];
  constructor(status: TaskStatus) {
    super(
      'TASKQ_TASK_FAILED',
      `task ${status.id} (${status.name}) failed after ${status.attempts} attempt(s): ${status.error?.message ?? 'unknown error'}`,
    );
    this.taskId = status.id;
    this.taskError = status.error;
  }
}

/** A submitted task; `id` exists before anything was published. Serialises to `{ id, name, queue }`. */
export class TaskHandle<Result = unknown> {
  readonly id: string;
  /** Registry id of the task. */
  readonly name: string;
  /** Logical queue it went to. */
  readonly queue: string;
  readonly #readStatus: (id: string) => Promise<TaskStatus | null>;
  readonly #cancel: ((id: string) => Promise<boolean>) | undefined;
  /** Carries the result type for inference; never set at run time. */
  declare readonly __result?: Result;

  /** Made by the queue (`submit`, `queue.handle(id)`); not for application code. */
  constructor(
    readStatus: (id: string) => Promise<TaskStatus | null>,
    id: string,
    name: string,
    queue: string,
    cancel?: (id: string) => Promise<boolean>,
  ) {
    this.#readStatus = readStatus;
    this.#cancel = cancel;
    this.id = id;
    this.name = name;
    this.queue = queue;
  }

  /** The task's status (needs a store), or null when unknown. */
  status(): Promise<TaskStatus<Result> | null> {
    return this.#readStatus(this.id) as Promise<TaskStatus<Result> | null>;
  }

  /** Cancels the task: see `queue.cancel(id)`. */
  cancel(): Promise<boolean> {
    if (!this.#cancel) return Promise.reject(new NoControlPlaneError('(unknown)'));
    return this.#cancel(this.id);
  }

  /**
   * Waits until the task finished and returns its result; throws `TaskFailedError` if it was dead-lettered. Needs a
   * store.
   */
  async result(options: ResultOptions = {}): Promise<Result> {
    const timeoutMs = parseDuration(options.timeout ?? 30_000, 'timeout');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status();
      if (status?.state === 'succeeded') return status.result as Result;
      if (status?.state === 'dead') throw new TaskFailedError(status);
      if (status?.state === 'cancelled') throw new TaskCancelledError(this.id);
      if (Date.now() >= deadline) {
        throw new ResultTimeoutError(
          this.id,
          `task ${this.id} did not finish within ${timeoutMs} ms (state: ${status?.state ?? 'unknown'})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, options.interval ?? 50));
    }
  }

  toJSON(): { id: string; name: string; queue: string } {
    return { id: this.id, name: this.name, queue: this.queue };
  }
}
