import { hostname } from 'node:os';
import type { CodecSet } from '../codecs/codec-set.js';
import { encodeArgs } from '../codecs/encode.js';
import { errorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { isPublicError } from './public-error.js';
import type { ProgressValue, ResultStore, StoredError, WorkerPlace } from '../result-store.js';
import { describeError } from './dead-letter.js';
import type { TaskRun } from './task-run.js';

/**
 * Writes a worker's task transitions to the result store. A store failure
 * never fails a task: it is reported and the task goes on (at-least-once
 * holds; the status is stale until the store recovers).
 */
export class StatusRecorder {
  readonly #store: ResultStore;
  readonly #codecs: CodecSet;
  readonly #logger: Logger;
  readonly #report: (message: string, error: unknown) => void;
  /** This process, for the history of a worker that has no presence card (a transport without heartbeats). */
  readonly #here: WorkerPlace = { host: hostname(), pid: process.pid };

  constructor(store: ResultStore, codecs: CodecSet, logger: Logger, report: (message: string, error: unknown) => void) {
    this.#store = store;
    this.#codecs = codecs;
    this.#logger = logger;
    this.#report = report;
  }

  /**
   * False when the store knows the task as finished (a redelivery or a replayed copy): the caller acks without running
   * it.
   */
  async start(
    run: TaskRun,
    deadRetries: number,
    worker?: { readonly instance: string; readonly host: string; readonly pid: number },
  ): Promise<boolean> {
    try {
      const where = worker ? { host: worker.host, pid: worker.pid } : this.#here;
      return await this.#store.started(run.id, run.attempt, new Date(), deadRetries, worker?.instance, where);
    } catch (error) {
      this.#report(`recording the start of task ${run.id} failed`, error);
      return true;
    }
  }

  /** Whether the store has the task as cancelled (asked only for a task it refused to start, to log why). */
  async isCancelled(id: string): Promise<boolean> {
    try {
      return (await this.#store.get(id))?.state === 'cancelled';
    } catch {
      return false;
    }
  }

  async success(run: TaskRun): Promise<void> {
    try {
      let encoded: string;
      try {
        // Stored as a one-element encoded argument list, so readers decode it with the same codecs.
        const value = encodeArgs([run.result], this.#codecs);
        encoded = JSON.stringify(Array.isArray(value) ? value : await value);
      } catch (error) {
        this.#logger.warn(
          `the result of task ${run.id} cannot be stored (${describeError(error).message}); storing null`,
        );
        encoded = '[null]';
      }
      await this.#store.succeeded(run.id, encoded, new Date());
    } catch (error) {
      this.#report(`recording the result of task ${run.id} failed`, error);
    }
  }

  async progress(run: TaskRun, value: ProgressValue, at: Date): Promise<void> {
    try {
      await this.#store.progress?.(run.id, value, at);
    } catch (error) {
      this.#report(`recording the progress of task ${run.id} failed`, error);
    }
  }

  async failure(id: string, error: unknown, final: boolean): Promise<void> {
    try {
      await this.#store.failed(id, storedError(error), final, new Date());
    } catch (storeError) {
      this.#report(`recording the failure of task ${id} failed`, storeError);
    }
  }
}

function storedError(error: unknown): StoredError {
  const { message, stack } = describeError(error);
  const name = error instanceof Error ? error.name : undefined;
  return { message, code: errorCode(error), name, stack, ...(isPublicError(error) ? { expose: true } : {}) };
}
