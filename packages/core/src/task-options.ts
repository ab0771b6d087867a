import { InvalidOptionError } from './errors.js';

/** How long to wait between attempts. */
export type Backoff =
  | { readonly type: 'fixed'; readonly delay: number | string }
  | { readonly type: 'exponential'; readonly delay: number | string; readonly maxDelay?: number | string; readonly jitter?: boolean };

/** Options that shape one task's execution; set per task at registration or per submit with `queue.with(...)`. */
export interface TaskOptions {
  /**
   * Logical queue the task goes to.
   * @defaultValue `'default'`
   */
  readonly queue?: string;
  /**
   * How many times the task may run in total before it is dead-lettered.
   * @defaultValue `1`
   */
  readonly attempts?: number;
  /**
   * Pause between attempts.
   * @defaultValue `{ type: 'exponential', delay: 1000, jitter: true }`
   */
  readonly backoff?: Backoff;
  /** Per-attempt time limit (ms or `'30s'`); `currentTask().signal` aborts when it passes. */
  readonly timeout?: number | string;
  /** 0-9, higher first (where the transport supports it). */
  readonly priority?: number;
}

/** Options for one submission: task options plus scheduling. */
export interface SubmitOptions extends TaskOptions {
  /** Hold the task back for this long (ms or `'10s'`, `'5m'`, `'2h'`, `'1d'`). */
  readonly delay?: number | string;
  /** Run at (or just after) this time. */
  readonly at?: Date;
  /**
   * Deduplication key: while a task submitted with this key is unfinished,
   * another submit with it returns that task's handle instead of queueing a
   * second one. Needs a result store.
   */
  readonly key?: string;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250`, `'250ms'`, `'10s'`, `'5m'`, `'2h'`, `'1d'` into milliseconds. */
export function parseDuration(value: number | string, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidOptionError(option, `expected a non-negative number of milliseconds, got ${value}`);
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new InvalidOptionError(option, `expected a duration like 500, '10s', '5m', '2h' or '1d', got ${JSON.stringify(value)}`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']);
}

/** Fully resolved execution options carried in the envelope. */
export interface ResolvedTaskOptions {
  readonly attempts: number;
  readonly backoff: ResolvedBackoff;
  readonly timeoutMs?: number;
}

export interface ResolvedBackoff {
  readonly type: 'fixed' | 'exponential';
  readonly delayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: boolean;
}

export const DEFAULT_BACKOFF: ResolvedBackoff = { type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: true };

const QUEUE_NAME = /^[A-Za-z0-9_.\-:]{1,200}$/;

/** Validates the options once, at the edge, naming the bad one. */
export function validateTaskOptions(options: SubmitOptions, where: string): void {
  if (options.queue !== undefined && (typeof options.queue !== 'string' || !QUEUE_NAME.test(options.queue))) {
    throw new InvalidOptionError(`${where}.queue`, `expected letters, digits, '_', '.', '-' or ':' (1-200 chars), got ${JSON.stringify(options.queue)}`);
  }
  if (options.attempts !== undefined && (!Number.isInteger(options.attempts) || options.attempts < 1)) {
    throw new InvalidOptionError(`${where}.attempts`, `expected an integer >= 1, got ${options.attempts}`);
  }
  if (options.priority !== undefined && (!Number.isInteger(options.priority) || options.priority < 0 || options.priority > 9)) {
    throw new InvalidOptionError(`${where}.priority`, `expected an integer 0-9, got ${options.priority}`);
  }
  if (options.timeout !== undefined) parseDuration(options.timeout, `${where}.timeout`);
  if (options.delay !== undefined) parseDuration(options.delay, `${where}.delay`);
  if (options.at !== undefined && !(options.at instanceof Date && !Number.isNaN(options.at.getTime()))) {
    throw new InvalidOptionError(`${where}.at`, 'expected a valid Date');
  }
  if (options.backoff !== undefined) resolveBackoff(options.backoff, `${where}.backoff`);
  if (options.key !== undefined && (typeof options.key !== 'string' || options.key.length === 0 || options.key.length > 250)) {
    throw new InvalidOptionError(`${where}.key`, 'expected a non-empty string of at most 250 characters');
  }
}

export function resolveBackoff(backoff: Backoff | undefined, option: string): ResolvedBackoff {
  if (backoff === undefined) return DEFAULT_BACKOFF;
  if (backoff.type !== 'fixed' && backoff.type !== 'exponential') {
    throw new InvalidOptionError(`${option}.type`, `expected 'fixed' or 'exponential', got ${JSON.stringify((backoff as { type: unknown }).type)}`);
  }
  const delayMs = parseDuration(backoff.delay, `${option}.delay`);
  if (backoff.type === 'fixed') return { type: 'fixed', delayMs, maxDelayMs: delayMs, jitter: false };
  return {
    type: 'exponential',
    delayMs,
    maxDelayMs: backoff.maxDelay === undefined ? DEFAULT_BACKOFF.maxDelayMs : parseDuration(backoff.maxDelay, `${option}.maxDelay`),
    jitter: backoff.jitter ?? true,
  };
}

/** Delay before attempt `nextAttempt` (2 = first retry). */
export function backoffDelay(backoff: ResolvedBackoff, nextAttempt: number): number {
  const base = backoff.type === 'fixed' ? backoff.delayMs : Math.min(backoff.maxDelayMs, backoff.delayMs * 2 ** (nextAttempt - 2));
  // Jitter spreads retries of tasks that failed together (a downstream outage) so they do not return as one burst.
  return backoff.jitter ? Math.round(base / 2 + Math.random() * (base / 2)) : base;
}
