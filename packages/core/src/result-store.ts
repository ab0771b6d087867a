/**
 * Where a task is in its life. `retrying` waits for its next attempt; `dead` went to the dead-letter queue;
 * `cancelled` was cancelled with `queue.cancel(id)` before it finished, and does not run (again).
 */
export type TaskState = 'queued' | 'active' | 'retrying' | 'succeeded' | 'dead' | 'cancelled';

/** A failure as stored: enough to show a user, no stack unless asked for. */
export interface StoredError {
  readonly message: string;
  readonly code?: string;
  readonly name?: string;
  readonly stack?: string;
  /** The error was marked public (`expose = true`): the status route may show its message to the client. */
  readonly expose?: boolean;
}

/** What `queue.status(id)` answers. */
export interface TaskStatus<Result = unknown> {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly state: TaskState;
  /** Highest attempt number started so far. */
  readonly attempts: number;
  /**
   * Times a worker started the task: each attempt, and each redelivery of an
   * attempt whose worker died (so a crashed run and its rerun count twice).
   */
  readonly deliveries: number;
  readonly result?: Result;
  readonly error?: StoredError;
  readonly enqueuedAt: Date;
  /** When the latest start (attempt or redelivery) began. */
  readonly startedAt?: Date;
  /** Id of the worker that made the latest start (its heartbeat id), when the store records it. */
  readonly workerId?: string;
  /**
   * Set by `queue.status()` on an `active` task whose worker stopped sending
   * heartbeats: it died with the task, which waits for the broker to redeliver it.
   */
  readonly lost?: boolean;
  readonly finishedAt?: Date;
  /**
   * The latest value the task reported with `currentTask().progress(value)` (a number 0-100 or a JSON object); kept
   * when the task ends.
   */
  readonly progress?: ProgressValue;
  /**
   * The task's arguments in taskq's encoded form (or what the store's `redact` made of them), only from a store
   * created with `keepArgs: true`.
   */
  readonly args?: unknown;
  /**
   * The task's latest starts, oldest first (at most {@link MAX_ATTEMPT_HISTORY}, the older ones dropped): each
   * attempt, and each redelivery of an attempt whose worker died, with when and where it ran and how it ended. From
   * `get()` of a store that records it (both of taskq's stores); `list()` leaves it out.
   */
  readonly history?: readonly AttemptRecord[];
}

/** How many starts {@link TaskStatus.history} keeps. */
export const MAX_ATTEMPT_HISTORY = 20;

/**
 * How one start of a task ended: `succeeded`; `failed` and another attempt follows; `dead`, failed with no attempt
 * following (dead-lettered); `cancelled` while it ran; `lost`, no outcome was recorded (its worker died, or could not
 * reach the store) and the task went on; `running`, not ended yet.
 */
export type AttemptOutcome = 'running' | 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'lost';

/** One start of a task in {@link TaskStatus.history}. */
export interface AttemptRecord {
  /** The attempt number (a redelivered attempt keeps its number, so two records may share one). */
  readonly attempt: number;
  readonly startedAt: Date;
  /** When it ended, when known (not for `running` and `lost`). */
  readonly finishedAt?: Date;
  readonly outcome: AttemptOutcome;
  /** `finishedAt - startedAt`, when it ended. */
  readonly durationMs?: number;
  /** Why it failed (`failed`, `dead`); the stack is cut to {@link MAX_HISTORY_STACK_CHARS} characters. */
  readonly error?: StoredError;
  /** The worker that ran it: its heartbeat id (when it has one), host name and process id. */
  readonly worker?: AttemptWorker;
}

/** Where a start ran, as far as the worker told the store. */
export interface AttemptWorker {
  /** The worker's heartbeat id, as in {@link TaskStatus.workerId}. */
  readonly id?: string;
  readonly host?: string;
  readonly pid?: number;
}

/** Where a worker process runs: what {@link ResultStore.started} is told for the history. */
export interface WorkerPlace {
  readonly host: string;
  readonly pid: number;
}

/** Stacks in {@link TaskStatus.history} are cut to this many characters (the latest `error` keeps more). */
export const MAX_HISTORY_STACK_CHARS = 4_000;

/** What a task reports with `currentTask().progress(value)`: a percentage (0-100) or a JSON object. */
export type ProgressValue = number | { readonly [key: string]: unknown };

/** A query of `store.list()`: filters (all optional, combined with AND), newest first. */
export interface TaskListQuery {
  readonly state?: TaskState;
  /** Registry id of the task, e.g. `mail.sendWelcomeMail`. */
  readonly name?: string;
  readonly queue?: string;
  /** Only tasks enqueued at or after this time. */
  readonly since?: Date;
  /** The `next` of the previous page. */
  readonly cursor?: string;
  /** Page size, 1 to 1000. */
  readonly limit: number;
}

/** A page of `store.list()`. */
export interface TaskPage {
  readonly items: StoredStatus[];
  /** Opaque cursor of the next (older) page; absent on the last page. */
  readonly next?: string;
}

/** What `store.counts()` answers: how many stored tasks are in each state, overall and per queue. */
export interface TaskCounts {
  readonly byState: Readonly<Record<TaskState, number>>;
  readonly byQueue: Readonly<Record<string, Readonly<Record<TaskState, number>>>>;
}

/** How many tasks of one queue finished in one minute, by outcome: what `store.finishedPerMinute()` answers. */
export interface FinishedMinute {
  readonly queue: string;
  /** Start of the minute (UTC, on a whole minute). */
  readonly minute: Date;
  readonly succeeded: number;
  /** Failed for good (dead-lettered). */
  readonly dead: number;
  readonly cancelled: number;
}

/** Stops a {@link ResultStore.subscribe} subscription. */
export type Unsubscribe = () => Promise<void>;

/** A task about to be published. */
export interface EnqueuedRecord {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly enqueuedAt: Date;
  /** Deduplication key given with `with({ key })`. */
  readonly key?: string;
  /** The task's encoded arguments, computed when called: a store calls it only when it keeps arguments. */
  readonly args?: () => readonly unknown[];
}

/**
 * Records task transitions so `queue.status(id)` and `handle.result()` can
 * answer, and so a redelivered task that already succeeded is not run again.
 * Results are stored in taskq's encoded form (codecs applied), as JSON text.
 *
 * Implementations: `memoryResultStore()` here; a SQL store (PostgreSQL,
 * SQLite) in @taskq/typeorm. Transitions only move forward: a late `queued`
 * never overwrites `active`, so out-of-order writes cannot confuse a reader.
 */
export interface ResultStore {
  /** Records tasks as `queued` (insert; an existing row is left alone). */
  enqueued(records: readonly EnqueuedRecord[]): Promise<void>;
  /**
   * An attempt starts (counted in `deliveries`, `startedAt` set to `at`).
   * Resolves false, changing nothing, when the task already finished: it
   * succeeded (a redelivery after a crash between run and ack, or a
   * replayed copy), or it is dead and `deadRetries` is not above the count
   * it died with (a replayed copy, not a dead letter sent back by `taskq
   * dead retry`). The worker then acks the message without running it.
   * A store that keeps {@link TaskStatus.history} appends the start there, in the same write.
   * @param workerId The starting worker's id, for `lost` (a store may ignore it).
   * @param deadRetries How many times the message's dead letter was sent back (header `x-taskq-dead-retries`); 0 when
   * absent.
   * @param where The starting worker's host and process id, for the history (a store may ignore it).
   */
  started(
    id: string,
    attempt: number,
    at: Date,
    deadRetries?: number,
    workerId?: string,
    where?: WorkerPlace,
  ): Promise<boolean>;
  /**
   * The task succeeded; `result` is JSON text of `[encodedReturnValue]` (taskq's codec encoding). The history's open
   * start, if any, ends `succeeded`.
   */
  succeeded(id: string, result: string, at: Date): Promise<void>;
  /**
   * An attempt failed; `final` means no attempt follows (dead-lettered). The history's open start, if any, ends
   * `failed` (or `dead` when final) with the error.
   */
  failed(id: string, error: StoredError, final: boolean, at: Date): Promise<void>;
  /** The stored status with the encoded result, or null for an unknown id. */
  get(id: string): Promise<StoredStatus | null>;
  /**
   * Deduplication: takes `key` for task `id` unless an unfinished task holds
   * it. Returns the id that holds the key afterwards (the earlier one, or `id`).
   */
  claimKey(key: string, id: string, name: string): Promise<string>;
  /** Gives a key back (the task that claimed it was rolled back). */
  releaseKey(key: string, id: string): Promise<void>;
  /**
   * Marks an unfinished task `cancelled` (finished at `at`); a later `started` resolves false for it, and a late
   * `succeeded` or `failed` changes nothing. Resolves whether it changed the status: false when the task already
   * finished or is unknown. Optional: without it `queue.cancel(id)` reaches running tasks only.
   */
  cancel?(id: string, at: Date): Promise<boolean>;
  /** Deletes finished tasks older than the store's retention; returns how many. */
  prune(now?: Date): Promise<number>;
  /** The task index: stored tasks newest first (by id, which sorts by time), a page at a time. */
  list?(query: TaskListQuery): Promise<TaskPage>;
  /** How many stored tasks are in each state, overall and per queue. */
  counts?(): Promise<TaskCounts>;
  /**
   * Tasks finished since `since` (by `finishedAt`), counted per queue, minute and outcome; minutes with none are left
   * out. For a dashboard's chart: it reads the recent rows only, whatever the size of the store.
   */
  finishedPerMinute?(since: Date): Promise<FinishedMinute[]>;
  /** Records a running task's progress (ignored once the task finished). */
  progress?(id: string, value: ProgressValue, at: Date): Promise<void>;
  /**
   * Calls `listener` whenever the stored status of task `id` may have changed (a push: in-process, or a database
   * notification), so a reader re-reads it with `get()`. Resolves once the subscription is live.
   */
  subscribe?(id: string, listener: () => void): Promise<Unsubscribe>;
}

/** A status as stored, before the result is decoded. */
export interface StoredStatus extends Omit<TaskStatus, 'result'> {
  /** Encoded JSON text of the result, when succeeded. */
  readonly result?: string;
}

/** True for states no attempt follows. */
export function isFinished(state: TaskState): boolean {
  return state === 'succeeded' || state === 'dead' || state === 'cancelled';
}
