import type { ProgressValue } from '../result-store.js';

/** How often at most a task's progress is written to the result store. */
export const PROGRESS_INTERVAL_MS = 200;

/**
 * Coalesces a task's progress reports so a tight loop writes the store at
 * most once per interval: the first report is written at once, later ones
 * within the interval replace each other and the latest is written when it
 * ends. One write at a time, so writes land in report order.
 */
export class ProgressThrottle {
  readonly #write: (value: ProgressValue, at: Date) => Promise<void>;
  readonly #intervalMs: number;
  #pending: { value: ProgressValue; at: Date } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #lastWrite = Number.NEGATIVE_INFINITY;

  constructor(write: (value: ProgressValue, at: Date) => Promise<void>, intervalMs = PROGRESS_INTERVAL_MS) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  push(value: ProgressValue): void {
    this.#pending = { value, at: new Date() };
    this.#schedule();
  }

  /** Writes the pending report now and waits for every write: the task is about to be recorded as finished. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inflight;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending) {
      this.#drain();
      await this.#inflight;
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#inflight !== undefined) return;
    const wait = this.#lastWrite + this.#intervalMs - Date.now();
    if (wait <= 0) {
      this.#drain();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, wait);
    this.#timer.unref();
  }

  #drain(): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    this.#lastWrite = Date.now();
    // The writer reports its own failures; a progress write never fails the task.
    this.#inflight = this.#write(pending.value, pending.at).finally(() => {
      this.#inflight = undefined;
      if (this.#pending) this.#schedule();
    });
  }
}
