import type { AttemptOutcome, AttemptRecord, StoredError, TaskState, WorkerPlace } from '../result-store.js';
import { MAX_ATTEMPT_HISTORY, MAX_HISTORY_STACK_CHARS } from '../result-store.js';

/**
 * One start as a store keeps it, in JSON: times in epoch ms, no `outcome` while it runs (or when its end was never
 * recorded). What it became is decided when it is read ({@link readHistory}), from the task's state: a store then
 * writes each start once and each end once, and never has to find and close an earlier start.
 */
export interface HistoryEntry {
  readonly attempt: number;
  readonly startedAt: number;
  readonly finishedAt?: number;
  readonly outcome?: 'succeeded' | 'failed' | 'dead';
  readonly error?: StoredError;
  readonly workerId?: string;
  readonly host?: string;
  readonly pid?: number;
}

/** The entry of a start (what `started()` appends). */
export function historyStart(attempt: number, at: Date, workerId?: string, where?: WorkerPlace): HistoryEntry {
  return {
    attempt,
    startedAt: at.getTime(),
    ...(workerId === undefined ? {} : { workerId }),
    ...(where === undefined ? {} : { host: String(where.host), pid: Number(where.pid) }),
  };
}

/** What the end of a start adds to its entry (what `succeeded()` and `failed()` merge into the open one). */
export function historyEnd(
  outcome: 'succeeded' | 'failed' | 'dead',
  at: Date,
  error?: StoredError,
): Pick<HistoryEntry, 'finishedAt' | 'outcome' | 'error'> {
  return { finishedAt: at.getTime(), outcome, ...(error === undefined ? {} : { error: historyError(error) }) };
}

/** `entries` with `entry` appended, the oldest dropped beyond {@link MAX_ATTEMPT_HISTORY}. */
export function appendHistory(entries: readonly HistoryEntry[] | undefined, entry: HistoryEntry): HistoryEntry[] {
  const kept = entries ?? [];
  return [...kept.slice(Math.max(0, kept.length - MAX_ATTEMPT_HISTORY + 1)), entry];
}

/** `entries` with the last one ended by `end`, when it is still open; otherwise unchanged. */
export function endHistory(
  entries: readonly HistoryEntry[] | undefined,
  end: Pick<HistoryEntry, 'finishedAt' | 'outcome' | 'error'>,
): readonly HistoryEntry[] | undefined {
  const last = entries?.at(-1);
  if (!entries || !last || last.outcome !== undefined) return entries;
  return [...entries.slice(0, -1), { ...last, ...end }];
}

/**
 * The history as {@link TaskStatus.history} shows it, from what a store kept (an array of entries, or its JSON text):
 * an open entry is `running` when it is the task's current start, `cancelled` when the task was cancelled during it,
 * and `lost` otherwise (another start followed, or the task ended without it). Anything malformed is left out.
 */
export function readHistory(stored: unknown, state: TaskState, finishedAt?: Date): AttemptRecord[] {
  let entries = stored;
  if (typeof entries === 'string') {
    try {
      entries = JSON.parse(entries);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(entries)) return [];
  const valid = entries.filter(
    (e): e is HistoryEntry =>
      typeof e === 'object' && e !== null && Number.isFinite(e.attempt) && Number.isFinite(e.startedAt),
  );
  return valid.map((entry, i) => {
    const last = i === valid.length - 1;
    let outcome: AttemptOutcome = entry.outcome ?? 'lost';
    let ended = entry.finishedAt;
    if (entry.outcome === undefined && last && state === 'active') outcome = 'running';
    if (entry.outcome === undefined && last && state === 'cancelled') {
      outcome = 'cancelled';
      ended = finishedAt?.getTime();
    }
    const record: { -readonly [K in keyof AttemptRecord]: AttemptRecord[K] } = {
      attempt: entry.attempt,
      startedAt: new Date(entry.startedAt),
      outcome,
    };
    if (ended !== undefined && Number.isFinite(ended)) {
      record.finishedAt = new Date(ended);
      record.durationMs = Math.max(0, ended - entry.startedAt);
    }
    if (entry.error && typeof entry.error.message === 'string') record.error = entry.error;
    const worker = {
      ...(typeof entry.workerId === 'string' ? { id: entry.workerId } : {}),
      ...(typeof entry.host === 'string' ? { host: entry.host } : {}),
      ...(typeof entry.pid === 'number' ? { pid: entry.pid } : {}),
    };
    if (Object.keys(worker).length > 0) record.worker = worker;
    return record;
  });
}

/** The error of a history entry: the fields a reader shows, the stack cut shorter than the latest error's. */
function historyError(error: StoredError): StoredError {
  const stack = error.stack;
  return {
    message: clip(String(error.message), MAX_HISTORY_MESSAGE_CHARS),
    ...(error.code === undefined ? {} : { code: error.code }),
    ...(error.name === undefined ? {} : { name: error.name }),
    ...(stack === undefined ? {} : { stack: clip(String(stack), MAX_HISTORY_STACK_CHARS) }),
  };
}

/** As a worker cuts an error message for the store and for dead letters. */
const MAX_HISTORY_MESSAGE_CHARS = 2_000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
