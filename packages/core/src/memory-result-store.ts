import { InvalidOptionError } from './errors.js';
import {
  type EnqueuedRecord,
  isFinished,
  type ResultStore,
  type StoredError,
  type StoredStatus,
  type TaskState,
} from './result-store.js';
import { parseDuration } from './task-options.js';

interface Row {
  id: string;
  name: string;
  queue: string;
  state: TaskState;
  attempts: number;
  deliveries: number;
  /** The dead-retry count of the latest start: a dead task starts again only for a higher one. */
  deadRetries: number;
  result?: string;
  error?: StoredError;
  enqueuedAt: Date;
  startedAt?: Date;
  finishedAt?: Date;
  workerId?: string;
}

/** Options of {@link memoryResultStore}. */
export interface MemoryResultStoreOptions {
  /**
   * How long finished tasks are kept (pruned on later writes).
   * @defaultValue `'1d'`
   */
  readonly retention?: number | string;
}

/** An in-process result store (tests, the demo, single-process apps). Not shared between processes. */
export class MemoryResultStore implements ResultStore {
  readonly #rows = new Map<string, Row>();
  readonly #keys = new Map<string, string>();
  readonly #retentionMs: number;
  #writes = 0;

  constructor(options: MemoryResultStoreOptions = {}) {
    this.#retentionMs = parseDuration(options.retention ?? '1d', 'retention');
    if (this.#retentionMs <= 0) throw new InvalidOptionError('retention', 'expected a positive duration');
  }

  async enqueued(records: readonly EnqueuedRecord[]): Promise<void> {
    for (const record of records) {
      if (this.#rows.has(record.id)) continue;
      this.#rows.set(record.id, {
        id: record.id,
        name: record.name,
        queue: record.queue,
        state: 'queued',
        attempts: 0,
        deliveries: 0,
        deadRetries: 0,
        enqueuedAt: record.enqueuedAt,
      });
    }
    this.#maybePrune();
  }

  async started(id: string, attempt: number, at: Date, deadRetries = 0, workerId?: string): Promise<boolean> {
    const row = this.#rows.get(id);
    if (!row) return true;
    if (row.state === 'succeeded' || row.state === 'cancelled') return false;
    // A dead task runs again only when its dead letter was sent back, which counts one more dead retry.
    if (isFinished(row.state) && deadRetries <= row.deadRetries) return false;
    row.state = 'active';
    row.finishedAt = undefined;
    row.attempts = Math.max(row.attempts, attempt);
    row.deliveries++;
    row.deadRetries = Math.max(row.deadRetries, deadRetries);
    row.startedAt = at;
    row.workerId = workerId;
    return true;
  }

  async succeeded(id: string, result: string, at: Date): Promise<void> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return;
    row.state = 'succeeded';
    row.result = result;
    row.error = undefined;
    row.finishedAt = at;
  }

  async failed(id: string, error: StoredError, final: boolean, at: Date): Promise<void> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return;
    row.state = final ? 'dead' : 'retrying';
    row.error = error;
    if (final) row.finishedAt = at;
  }

  async cancel(id: string, at: Date): Promise<boolean> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return false;
    row.state = 'cancelled';
    row.finishedAt = at;
    return true;
  }

  async get(id: string): Promise<StoredStatus | null> {
    const row = this.#rows.get(id);
    if (!row) return null;
    const { deadRetries: _, ...status } = row;
    return status;
  }

  async claimKey(key: string, id: string): Promise<string> {
    const holder = this.#keys.get(key);
    if (holder !== undefined && holder !== id) {
      const row = this.#rows.get(holder);
      // A holder with no row yet was claimed moments ago and is about to be enqueued: still unfinished.
      if (!row || !isFinished(row.state)) return holder;
    }
    this.#keys.set(key, id);
    return id;
  }

  async releaseKey(key: string, id: string): Promise<void> {
    if (this.#keys.get(key) === id) this.#keys.delete(key);
  }

  async prune(now = new Date()): Promise<number> {
    let removed = 0;
    const cutoff = now.getTime() - this.#retentionMs;
    for (const [id, row] of this.#rows) {
      if (isFinished(row.state) && (row.finishedAt?.getTime() ?? 0) < cutoff) {
        this.#rows.delete(id);
        removed++;
      }
    }
    for (const [key, id] of this.#keys) if (!this.#rows.has(id)) this.#keys.delete(key);
    return removed;
  }

  #maybePrune(): void {
    if (++this.#writes % 10_000 === 0) void this.prune();
  }
}

/** Creates an in-process result store. */
export function memoryResultStore(options?: MemoryResultStoreOptions): MemoryResultStore {
  return new MemoryResultStore(options);
}
