import { InvalidOptionError } from './errors.js';
import {
  appendHistory,
  endHistory,
  type HistoryEntry,
  historyEnd,
  historyStart,
  readHistory,
} from './internal/attempt-history.js';
import {
  addCount,
  argsKeeper,
  checkListQuery,
  emptyCounts,
  encodeCursor,
  type KeepArgsOptions,
} from './internal/task-index.js';
import {
  type EnqueuedRecord,
  type FinishedMinute,
  isFinished,
  type ProgressValue,
  type ResultStore,
  type StoredError,
  type StoredStatus,
  type TaskCounts,
  type TaskListQuery,
  type TaskPage,
  type TaskState,
  type Unsubscribe,
  type WorkerPlace,
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
  progress?: ProgressValue;
  /** JSON text of the kept arguments. */
  args?: string;
  workerId?: string;
  history?: readonly HistoryEntry[];
}

/** Options of {@link memoryResultStore}. */
export interface MemoryResultStoreOptions extends KeepArgsOptions {
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
  readonly #listeners = new Map<string, Set<() => void>>();
  readonly #keepArgs: ((name: string, args?: () => readonly unknown[]) => string | undefined) | undefined;
  #writes = 0;

  constructor(options: MemoryResultStoreOptions = {}) {
    this.#retentionMs = parseDuration(options.retention ?? '1d', 'retention');
    if (this.#retentionMs <= 0) throw new InvalidOptionError('retention', 'expected a positive duration');
    this.#keepArgs = argsKeeper(options);
  }

  async enqueued(records: readonly EnqueuedRecord[]): Promise<void> {
    for (const record of records) {
      if (this.#rows.has(record.id)) continue;
      const args = this.#keepArgs?.(record.name, record.args);
      this.#rows.set(record.id, {
        ...(args === undefined ? {} : { args }),
        id: record.id,
        name: record.name,
        queue: record.queue,
        state: 'queued',
        attempts: 0,
        deliveries: 0,
        deadRetries: 0,
        enqueuedAt: record.enqueuedAt,
      });
      this.#changed(record.id);
    }
    this.#maybePrune();
  }

  async started(
    id: string,
    attempt: number,
    at: Date,
    deadRetries = 0,
    workerId?: string,
    where?: WorkerPlace,
  ): Promise<boolean> {
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
    row.history = appendHistory(row.history, historyStart(attempt, at, workerId, where));
    this.#changed(id);
    return true;
  }

  async succeeded(id: string, result: string, at: Date): Promise<void> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return;
    row.state = 'succeeded';
    row.result = result;
    row.error = undefined;
    row.finishedAt = at;
    row.history = endHistory(row.history, historyEnd('succeeded', at));
    this.#changed(id);
  }

  async failed(id: string, error: StoredError, final: boolean, at: Date): Promise<void> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return;
    row.state = final ? 'dead' : 'retrying';
    row.error = error;
    if (final) row.finishedAt = at;
    row.history = endHistory(row.history, historyEnd(final ? 'dead' : 'failed', at, error));
    this.#changed(id);
  }

  async cancel(id: string, at: Date): Promise<boolean> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return false;
    row.state = 'cancelled';
    row.finishedAt = at;
    this.#changed(id);
    return true;
  }

  async get(id: string): Promise<StoredStatus | null> {
    const row = this.#rows.get(id);
    if (!row) return null;
    const status = this.#snapshot(row);
    return row.history === undefined
      ? status
      : { ...status, history: readHistory(row.history, row.state, row.finishedAt) };
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

  async progress(id: string, value: ProgressValue, _at: Date): Promise<void> {
    const row = this.#rows.get(id);
    if (!row || isFinished(row.state)) return;
    // A copy: the task may go on mutating its object.
    row.progress = JSON.parse(JSON.stringify(value)) as ProgressValue;
    this.#changed(id);
  }

  async list(query: TaskListQuery): Promise<TaskPage> {
    const after = checkListQuery(query);
    const since = query.since?.getTime();
    const rows = [...this.#rows.values()].filter(
      (row) =>
        (query.state === undefined || row.state === query.state) &&
        (query.name === undefined || row.name === query.name) &&
        (query.queue === undefined || row.queue === query.queue) &&
        (since === undefined || row.enqueuedAt.getTime() >= since) &&
        (after === undefined || compare(row, after) < 0),
    );
    rows.sort((a, b) => -compare(a, { enqueuedAt: b.enqueuedAt.getTime(), id: b.id }));
    const page = rows.slice(0, query.limit);
    const items = page.map((row) => this.#snapshot(row));
    const last = page.at(-1);
    return rows.length > query.limit && last
      ? { items, next: encodeCursor({ enqueuedAt: last.enqueuedAt.getTime(), id: last.id }) }
      : { items };
  }

  async counts(): Promise<TaskCounts> {
    const counts: TaskCounts = { byState: emptyCounts(), byQueue: {} };
    for (const row of this.#rows.values()) addCount(counts, row.queue, row.state, 1);
    return counts;
  }

  async finishedPerMinute(since: Date): Promise<FinishedMinute[]> {
    const buckets = new Map<
      string,
      { queue: string; minute: number; succeeded: number; dead: number; cancelled: number }
    >();
    for (const row of this.#rows.values()) {
      const at = row.finishedAt?.getTime();
      if (at === undefined || at < since.getTime() || !isFinished(row.state)) continue;
      const minute = at - (at % 60_000);
      const key = `${minute} ${row.queue}`;
      let bucket = buckets.get(key);
      if (!bucket) buckets.set(key, (bucket = { queue: row.queue, minute, succeeded: 0, dead: 0, cancelled: 0 }));
      bucket[row.state as 'succeeded' | 'dead' | 'cancelled']++;
    }
    return [...buckets.values()]
      .sort((a, b) => a.minute - b.minute || (a.queue < b.queue ? -1 : 1))
      .map((b) => ({ ...b, minute: new Date(b.minute) }));
  }

  async subscribe(id: string, listener: () => void): Promise<Unsubscribe> {
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, (set = new Set()));
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(id) === set) this.#listeners.delete(id);
    };
  }

  #snapshot(row: Row): StoredStatus {
    const { deadRetries: _, args, history: __, ...status } = row;
    return {
      ...status,
      ...(status.progress === undefined ? {} : { progress: structuredClone(status.progress) }),
      ...(args === undefined ? {} : { args: JSON.parse(args) }),
    };
  }

  #changed(id: string): void {
    const set = this.#listeners.get(id);
    if (set) for (const listener of [...set]) listener();
  }

  #maybePrune(): void {
    if (++this.#writes % 10_000 === 0) void this.prune();
  }
}

function compare(row: Row, position: { enqueuedAt: number; id: string }): number {
  const at = row.enqueuedAt.getTime();
  if (at !== position.enqueuedAt) return at < position.enqueuedAt ? -1 : 1;
  return row.id < position.id ? -1 : row.id > position.id ? 1 : 0;
}

/** Creates an in-process result store. */
export function memoryResultStore(options?: MemoryResultStoreOptions): MemoryResultStore {
  return new MemoryResultStore(options);
}
