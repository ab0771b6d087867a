import { InvalidOptionError } from '../errors.js';
import type { ProgressValue, TaskCounts, TaskListQuery, TaskState } from '../result-store.js';

const STATES: readonly TaskState[] = ['queued', 'active', 'retrying', 'succeeded', 'dead'];

/** Where a page of the task index resumes: the last row's enqueue time and id. */
export interface ListPosition {
  readonly enqueuedAt: number;
  readonly id: string;
}

/** The opaque cursor of the page after `position`. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(`${position.enqueuedAt}:${position.id}`, 'utf8').toString('base64url');
}

/** Checks a list query (a store's own callers may be an HTTP handler) and decodes its cursor. */
export function checkListQuery(query: TaskListQuery): ListPosition | undefined {
  if (typeof query !== 'object' || query === null) throw new InvalidOptionError('query', 'expected an object');
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 1000)
    throw new InvalidOptionError('limit', `expected an integer from 1 to 1000, got ${String(query.limit)}`);
  if (query.state !== undefined && !STATES.includes(query.state))
    throw new InvalidOptionError('state', `expected one of ${STATES.join(', ')}`);
  for (const option of ['name', 'queue'] as const)
    if (query[option] !== undefined && typeof query[option] !== 'string')
      throw new InvalidOptionError(option, 'expected a string');
  if (query.since !== undefined && !(query.since instanceof Date && Number.isFinite(query.since.getTime())))
    throw new InvalidOptionError('since', 'expected a valid Date');
  if (query.cursor === undefined) return undefined;
  const text = typeof query.cursor === 'string' ? Buffer.from(query.cursor, 'base64url').toString('utf8') : '';
  const colon = text.indexOf(':');
  const enqueuedAt = Number(text.slice(0, colon));
  const id = text.slice(colon + 1);
  if (colon < 1 || !Number.isSafeInteger(enqueuedAt) || id.length === 0 || id.length > 36)
    throw new InvalidOptionError('cursor', 'expected the `next` of a previous page');
  return { enqueuedAt, id };
}

/** Zero counts for every state. */
export function emptyCounts(): Record<TaskState, number> {
  return { queued: 0, active: 0, retrying: 0, succeeded: 0, dead: 0, cancelled: 0 };
}

/** Adds `n` tasks of `queue` in `state` to `counts`. */
export function addCount(counts: TaskCounts, queue: string, state: TaskState, n: number): void {
  const byState = counts.byState as Record<TaskState, number>;
  const byQueue = counts.byQueue as Record<string, Record<TaskState, number>>;
  if (!(state in byState)) return;
  byState[state] += n;
  (byQueue[queue] ??= emptyCounts())[state] += n;
}

/** Checks a progress value: a number from 0 to 100, or a plain object that survives JSON. */
export function checkProgress(value: unknown): ProgressValue {
  if (typeof value === 'number') {
    if (!(value >= 0 && value <= 100)) throw new InvalidOptionError('progress', `expected 0 to 100, got ${value}`);
    return value;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    let text: string;
    try {
      text = JSON.stringify(value);
    } catch {
      throw new InvalidOptionError('progress', 'expected a JSON object');
    }
    if (text.length > 16_384) throw new InvalidOptionError('progress', 'expected at most 16 KiB of JSON');
    return JSON.parse(text) as ProgressValue;
  }
  throw new InvalidOptionError('progress', 'expected a number from 0 to 100 or a JSON object');
}

/** Options of a result store that keeps tasks' arguments (the memory and SQL stores). */
export interface KeepArgsOptions {
  /**
   * Store each task's arguments with its status (in taskq's encoded form, codecs applied), shown by `get()`,
   * `queue.status()` and `list()` as `args`. Off by default: arguments often hold personal data.
   * @defaultValue `false`
   */
  readonly keepArgs?: boolean;
  /**
   * With `keepArgs`, what is stored instead of the arguments (a JSON value), e.g. the arguments with a password
   * masked. An error it throws fails the submit.
   * @defaultValue the arguments as they are
   */
  readonly redact?: (name: string, args: readonly unknown[]) => unknown;
}

/** Validates {@link KeepArgsOptions}; returns what to store for a record, or undefined to store nothing. */
export function argsKeeper(
  options: KeepArgsOptions,
): ((name: string, args?: () => readonly unknown[]) => string | undefined) | undefined {
  const { keepArgs = false, redact } = options;
  if (typeof keepArgs !== 'boolean') throw new InvalidOptionError('keepArgs', 'expected a boolean');
  if (redact !== undefined && typeof redact !== 'function')
    throw new InvalidOptionError('redact', 'expected a function (name, args) => unknown');
  if (!keepArgs) return undefined;
  return (name, args) => {
    if (!args) return undefined;
    const encoded = args();
    const kept = redact ? redact(name, encoded) : encoded;
    return kept === undefined ? undefined : JSON.stringify(kept);
  };
}

/** The encoded arguments of an envelope body, parsed only when a store asks for them. */
export function lazyArgs(body: Buffer | string): () => readonly unknown[] {
  return () => {
    try {
      const parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as { args?: unknown };
      return Array.isArray(parsed?.args) ? parsed.args : [];
    } catch {
      // A damaged outbox row: its status is still recorded, without arguments.
      return [];
    }
  };
}
