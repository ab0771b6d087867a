import { InvalidOptionError } from './errors.js';
import type { OutgoingMessage } from './transport.js';

/** How long to wait between attempts. */
export type Backoff =
  | { readonly type: 'fixed'; readonly delay: number | string }
  | {
      readonly type: 'exponential';
      readonly delay: number | string;
      readonly maxDelay?: number | string;
      readonly jitter?: boolean;
    };

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

/**
 * A rate limit: at most `max` task starts in any window of `per`, across every worker of the prefix (see
 * docs/rate-limits.md).
 */
export interface RateLimit {
  /** Starts allowed per window: an integer 1-10000. */
  readonly max: number;
  /** The window (ms or `'1s'`, `'1m'`): at least 10 ms. */
  readonly per: number | string;
}

/**
 * Options given when a task is registered (`registry.add(id, fn, options)`): the task options plus limits that hold
 * across all workers. `A` is the task's parameter list, so `concurrencyKey` sees typed arguments.
 */
export interface RegistrationOptions<A extends readonly unknown[] = never> extends TaskOptions {
  /** At most `max` starts of this task in any window of `per`, across all workers (see docs/rate-limits.md). */
  readonly rateLimit?: RateLimit;
  /**
   * Computes the task's concurrency key (a tenant, a user) from its arguments at submit: at most
   * {@link maxPerKey} tasks with one key run at once across all workers, started in submit order per key.
   */
  readonly concurrencyKey?: (args: A) => string;
  /**
   * Most tasks of one concurrency key running at once (needs {@link concurrencyKey}).
   * @defaultValue `1`
   */
  readonly maxPerKey?: number;
  /**
   * Partition queues the keys are spread over by hash (needs {@link concurrencyKey}). Keys that share a partition
   * share its `maxPerKey` slots: more partitions, less waiting behind another key. Every keyed task of one queue
   * must use the same `partitions` and `maxPerKey`.
   * @defaultValue `16`
   */
  readonly partitions?: number;
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
  /**
   * The task's id instead of a fresh one: a lower-case UUID you derive yourself (a schedule's tick does), so that
   * a second submit of the same work is recognisable. A worker with a result store does not run an id that already
   * finished; a store keeps the first submit's record. One submit only: `submitMany` refuses it.
   */
  readonly id?: string;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `250`, `'250ms'`, `'10s'`, `'5m'`, `'2h'`, `'1d'` into milliseconds. */
export function parseDuration(value: number | string, option: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new InvalidOptionError(option, `expected a non-negative number of milliseconds, got ${value}`);
    return value;
  }
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value) : null;
  if (!match)
    throw new InvalidOptionError(
      option,
      `expected a duration like 500, '10s', '5m', '2h' or '1d', got ${JSON.stringify(value)}`,
    );
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? 'ms']);
}

// Limits shared by submit-time validation and the transports' publish, so that nothing accepted at submit can be
// refused at publish (where, inside a unit of work or from the outbox, it is too late to tell the caller).

// Not internal (stripped): transports/amqp/topology.d.ts imports these, and a .d.ts importing a stripped name does not compile.
/** One tick of the delay ladder (see transports/amqp/topology.ts). */
export const DELAY_TICK_MS = 10;
/** Levels of the delay ladder: level N holds a message 2^N ticks. */
export const DELAY_LEVELS = 28;
/** Longest delay the ladder holds: 2^28 - 1 ticks of 10 ms, about 31 days. Both transports refuse more. */
export const MAX_DELAY_MS = (2 ** DELAY_LEVELS - 1) * DELAY_TICK_MS;
/** @internal Highest priority; `amqp({ maxPriority })` takes 0..this. */
export const MAX_PRIORITY = 9;
/** @internal Longest `amqp({ prefix })`. */
export const MAX_PREFIX_LENGTH = 50;
/**
 * @internal Longest logical queue name. AMQP names and routing keys are at most 255 bytes, and the longest
 * one taskq builds is the delayed route: one word per delay level (`0.` or `1.`), then `<prefix>.q.<queue>`.
 * With the longest prefix that leaves 255 - 56 - 50 - 3 = 146 characters, whatever the transport's prefix.
 */
export const MAX_QUEUE_NAME_LENGTH = 255 - 2 * DELAY_LEVELS - MAX_PREFIX_LENGTH - '.q.'.length;
/** @internal Longest deduplication key (the SQL store's key column is 255 characters). */
export const MAX_KEY_LENGTH = 250;

// The shape the envelope check accepts (internal/uuid.ts), repeated here so this module imports no internals.
const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const QUEUE_NAME = new RegExp(`^[A-Za-z0-9_.\\-:]{1,${MAX_QUEUE_NAME_LENGTH}}$`);

/**
 * @internal Suffix of a key partition's logical queue: `<queue>~p<n>`. `~` is refused in the names users give, so a
 * partition can never be mistaken for a user's queue; transports give these queues a single active consumer.
 */
export const PARTITION_MARK = '~p';
/** @internal Room a partition suffix takes (`~p` and up to 4 digits): a keyed task's queue name is that much shorter. */
export const PARTITION_SUFFIX_LENGTH = 6;
const PARTITION_NAME = new RegExp(`^[A-Za-z0-9_.\\-:]{1,${MAX_QUEUE_NAME_LENGTH - 6}}~p\\d{1,4}$`);

/** @internal The logical queue of partition `n` of `queue`. */
export function partitionQueue(queue: string, n: number): string {
  return `${queue}${PARTITION_MARK}${n}`;
}

/** @internal The queue a partition belongs to (the name itself for any other queue). */
export function baseQueue(queue: string): string {
  const at = queue.lastIndexOf(PARTITION_MARK);
  return at > 0 && PARTITION_NAME.test(queue) ? queue.slice(0, at) : queue;
}

/** @internal Whether a logical queue is a key partition (single active consumer). */
export function isPartition(queue: string): boolean {
  return PARTITION_NAME.test(queue);
}

/** @internal Partition of a concurrency key: FNV-1a, the same in every process and version. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** Resolved {@link RateLimit}. */
export interface ResolvedRateLimit {
  readonly max: number;
  readonly perMs: number;
}

/** @internal Most tokens a limit may have: each is a message in the limit's queue. */
export const MAX_RATE_TOKENS = 10_000;

/** Checks a {@link RateLimit} and resolves its window to milliseconds, naming `option` when it is wrong. */
export function resolveRateLimit(limit: RateLimit, option: string): ResolvedRateLimit {
  if (typeof limit !== 'object' || limit === null)
    throw new InvalidOptionError(option, `expected { max, per }, got ${limit === null ? 'null' : typeof limit}`);
  if (!Number.isSafeInteger(limit.max) || limit.max < 1 || limit.max > MAX_RATE_TOKENS)
    throw new InvalidOptionError(`${option}.max`, `expected an integer 1-${MAX_RATE_TOKENS}, got ${String(limit.max)}`);
  if (limit.per === undefined) throw new InvalidOptionError(`${option}.per`, "expected a duration such as '1s'");
  const perMs = parseDuration(limit.per, `${option}.per`);
  if (perMs < DELAY_TICK_MS || perMs > MAX_DELAY_MS)
    throw new InvalidOptionError(
      `${option}.per`,
      `expected ${DELAY_TICK_MS} ms to about 31 days, got ${JSON.stringify(limit.per)} (${perMs} ms)`,
    );
  return { max: limit.max, perMs };
}

/** @internal Most partitions of a keyed queue (the suffix has room for 4 digits). */
export const MAX_PARTITIONS = 1_000;
/** @internal Default number of key partitions. */
export const DEFAULT_PARTITIONS = 16;

/** @internal Checks the registration-only options (limits and keys) of task `id`. */
export function validateRegistrationOptions(options: RegistrationOptions<readonly unknown[]>, where: string): void {
  if (options.rateLimit !== undefined) resolveRateLimit(options.rateLimit, `${where}.rateLimit`);
  const keyed = options.concurrencyKey !== undefined;
  if (keyed && typeof options.concurrencyKey !== 'function')
    throw new InvalidOptionError(`${where}.concurrencyKey`, 'expected a function (args) => string');
  for (const [name, max] of [
    ['maxPerKey', 65_535],
    ['partitions', MAX_PARTITIONS],
  ] as const) {
    const value = options[name];
    if (value === undefined) continue;
    if (!keyed) throw new InvalidOptionError(`${where}.${name}`, 'needs a concurrencyKey');
    if (!Number.isSafeInteger(value) || value < 1 || value > max)
      throw new InvalidOptionError(`${where}.${name}`, `expected an integer 1-${max}, got ${String(value)}`);
  }
  if (keyed && (options.queue ?? 'default').length > MAX_QUEUE_NAME_LENGTH - PARTITION_SUFFIX_LENGTH)
    throw new InvalidOptionError(
      `${where}.queue`,
      `a keyed task's queue name has at most ${MAX_QUEUE_NAME_LENGTH - PARTITION_SUFFIX_LENGTH} characters (its partitions add a suffix)`,
    );
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

export const DEFAULT_BACKOFF: ResolvedBackoff = {
  type: 'exponential',
  delayMs: 1_000,
  maxDelayMs: 3_600_000,
  jitter: true,
};

/**
 * Validates the options once, at the edge, naming the bad one; the limits are those the transports enforce at publish.
 */
export function validateTaskOptions(options: SubmitOptions, where: string): void {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError(
      where,
      `expected an object of options, got ${options === null ? 'null' : typeof options}`,
    );
  if (options.queue !== undefined) checkQueueName(options.queue, `${where}.queue`);
  if (options.attempts !== undefined && (!Number.isSafeInteger(options.attempts) || options.attempts < 1)) {
    throw new InvalidOptionError(`${where}.attempts`, `expected an integer >= 1, got ${options.attempts}`);
  }
  if (options.priority !== undefined) checkPriority(options.priority, `${where}.priority`);
  if (options.timeout !== undefined) {
    // The worker refuses an envelope whose timeout is not positive; 0 would otherwise fail every attempt at once.
    if (parseDuration(options.timeout, `${where}.timeout`) < 1) {
      throw new InvalidOptionError(
        `${where}.timeout`,
        `expected at least 1 ms (leave the option out for no time limit), got ${JSON.stringify(options.timeout)}`,
      );
    }
  }
  if (options.delay !== undefined)
    checkDelay(parseDuration(options.delay, `${where}.delay`), `${where}.delay`, options.delay);
  if (options.at !== undefined) {
    if (!(options.at instanceof Date && !Number.isNaN(options.at.getTime())))
      throw new InvalidOptionError(`${where}.at`, 'expected a valid Date');
    checkDelay(options.at.getTime() - Date.now(), `${where}.at`, options.at.toISOString());
  }
  if (options.backoff !== undefined) resolveBackoff(options.backoff, `${where}.backoff`);
  if (options.id !== undefined && (typeof options.id !== 'string' || !TASK_ID.test(options.id)))
    throw new InvalidOptionError(`${where}.id`, `expected a lower-case UUID, got ${JSON.stringify(options.id)}`);
  if (
    options.key !== undefined &&
    (typeof options.key !== 'string' || options.key.length === 0 || options.key.length > MAX_KEY_LENGTH)
  ) {
    const got = typeof options.key === 'string' ? `${options.key.length} characters` : typeof options.key;
    throw new InvalidOptionError(
      `${where}.key`,
      `expected a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${got}`,
    );
  }
}

function checkQueueName(queue: unknown, option: string, partitions = false): void {
  if (typeof queue === 'string' && (QUEUE_NAME.test(queue) || (partitions && PARTITION_NAME.test(queue)))) return;
  const shown =
    typeof queue === 'string' ? JSON.stringify(queue.length > 60 ? `${queue.slice(0, 60)}…` : queue) : typeof queue;
  const length = typeof queue === 'string' ? ` (${queue.length} characters)` : '';
  throw new InvalidOptionError(
    option,
    `expected letters, digits, '_', '.', '-' or ':' (1-${MAX_QUEUE_NAME_LENGTH} characters), got ${shown}${length}`,
  );
}

function checkPriority(priority: unknown, option: string): void {
  if (Number.isInteger(priority) && (priority as number) >= 0 && (priority as number) <= MAX_PRIORITY) return;
  throw new InvalidOptionError(option, `expected an integer 0-${MAX_PRIORITY}, got ${String(priority)}`);
}

function checkDelay(ms: number, option: string, given: unknown): void {
  if (ms <= MAX_DELAY_MS) return;
  throw new InvalidOptionError(
    option,
    `delays up to ${MAX_DELAY_MS} ms (about 31 days) are supported, got ${JSON.stringify(given)} (${Math.round(ms)} ms); ` +
      'for a later date keep it in your own storage and submit the task when it is less than 31 days away',
  );
}

/**
 * @internal What both transports check at publish, with the limits submit checks: a message built by an older
 * version, written by hand into an outbox, or re-published by a worker is refused at once, naming the option,
 * never half-published or retried forever.
 */
/** Queue names already checked by {@link checkMessageLimits}: a busy producer publishes to a few, over and over. */
const checkedQueues = new Set<string>();
const MAX_CHECKED_QUEUES = 1_024;

export function checkMessageLimits(message: OutgoingMessage): void {
  if (!checkedQueues.has(message.queue)) {
    checkQueueName(message.queue, 'queue', true);
    if (checkedQueues.size < MAX_CHECKED_QUEUES) checkedQueues.add(message.queue);
  }
  if (message.priority !== undefined) checkPriority(message.priority, 'priority');
  if (message.delayMs !== undefined) {
    if (typeof message.delayMs !== 'number' || Number.isNaN(message.delayMs))
      throw new InvalidOptionError('delay', `expected a number of milliseconds, got ${String(message.delayMs)}`);
    checkDelay(message.delayMs, 'delay', message.delayMs);
  }
}

export function resolveBackoff(backoff: Backoff | undefined, option: string): ResolvedBackoff {
  if (backoff === undefined) return DEFAULT_BACKOFF;
  if (typeof backoff !== 'object' || backoff === null)
    throw new InvalidOptionError(option, `expected { type: 'fixed' | 'exponential', delay }, got ${String(backoff)}`);
  if (backoff.type !== 'fixed' && backoff.type !== 'exponential') {
    throw new InvalidOptionError(
      `${option}.type`,
      `expected 'fixed' or 'exponential', got ${JSON.stringify((backoff as { type: unknown }).type)}`,
    );
  }
  // A retry is a delayed publish: a pause the transports would refuse must be refused here, not after a failure.
  const delayMs = parseDuration(backoff.delay, `${option}.delay`);
  checkDelay(delayMs, `${option}.delay`, backoff.delay);
  if (backoff.type === 'fixed') return { type: 'fixed', delayMs, maxDelayMs: delayMs, jitter: false };
  const maxDelayMs =
    backoff.maxDelay === undefined ? DEFAULT_BACKOFF.maxDelayMs : parseDuration(backoff.maxDelay, `${option}.maxDelay`);
  checkDelay(maxDelayMs, `${option}.maxDelay`, backoff.maxDelay);
  return { type: 'exponential', delayMs, maxDelayMs, jitter: backoff.jitter ?? true };
}

/** Delay before attempt `nextAttempt` (2 = first retry). */
export function backoffDelay(backoff: ResolvedBackoff, nextAttempt: number): number {
  const base =
    backoff.type === 'fixed' ? backoff.delayMs : Math.min(backoff.maxDelayMs, backoff.delayMs * 2 ** (nextAttempt - 2));
  // Jitter spreads retries of tasks that failed together (a downstream outage) so they do not return as one burst.
  const delay = backoff.jitter ? Math.round(base / 2 + Math.random() * (base / 2)) : base;
  // Submit refuses longer pauses, but an envelope can come from elsewhere: a retry the transport refuses would
  // send the message back to its queue, to fail and be refused again, forever.
  return Math.min(delay, MAX_DELAY_MS);
}
