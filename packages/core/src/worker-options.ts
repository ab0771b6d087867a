import type { Codec } from './codecs/types.js';
import type { TaskContext } from './internal/task-run.js';
import type { Logger } from './logger.js';
import type { TaskRegistry } from './registry.js';
import type { ResultStore } from './result-store.js';
import type { SigningKey } from './signing.js';
import type { RateLimit, TaskOptions } from './task-options.js';
import type { Transport } from './transport.js';

/**
 * Per-task middleware: code before `await next()` runs before the task, code after runs after it (also when it throws,
 * if you use try/finally).
 */
export type TaskMiddleware = (ctx: TaskContext, next: () => Promise<void>) => Promise<void>;

/**
 * A start-up or shut-down hook, run once per worker process. What it returns is awaited and otherwise ignored, so
 * `() => dataSource.initialize()` (a `Promise<DataSource>`) is a hook as it stands.
 */
export type LifecycleHook = () => unknown;

/** Options of {@link createWorker}. */
export interface WorkerOptions {
  /** The registry shared with the submitting side. Only its ids can run. */
  readonly registry: TaskRegistry;
  readonly transport: Transport;
  /**
   * Most tasks running at once (also the broker prefetch).
   * @defaultValue `10`
   */
  readonly concurrency?: number;
  /**
   * Logical queues to consume.
   * @defaultValue `['default']`
   */
  readonly queues?: readonly string[];
  /** Extra argument codecs; must match the submitting side's. */
  readonly codecs?: readonly Codec[];
  /** Defaults for tasks that set neither a task option nor a submit option (attempts, backoff, timeout). */
  readonly defaults?: TaskOptions;
  /** Returns false for errors that must not be retried (`NonRetryableError` never is). */
  readonly retryIf?: (error: unknown, task: TaskContext) => boolean;
  /**
   * With keys, only messages signed by one of them run (several keys allow
   * rotation). The signature covers the body, the queue, the attempt, the
   * dead-retry count and the due time; the worker signs the next attempts
   * and the retry of a dead letter with the first key.
   */
  readonly signingKeys?: SigningKey | readonly SigningKey[];
  /**
   * Oldest message the worker runs, counted from when it became due (its
   * submit time plus its delay; for a retry, the end of its backoff). An
   * older one is dead-lettered with reason `expired`. With signing the due
   * time is signed, so a captured message can be replayed only within this
   * age. Keep it well above the queue's usual backlog and the clock skew
   * between hosts. A number is milliseconds; strings like `'10m'` or `'1d'`.
   * @defaultValue none (any age)
   */
  readonly maxMessageAge?: number | string;
  /**
   * The broker's delivery acknowledgement timeout (RabbitMQ `consumer_timeout`,
   * 30 minutes by default). A task attempt still running 5 seconds before it
   * is failed with `TaskTimeoutError` and dead-lettered (reason
   * `exceeded-ack-deadline`, not retried): otherwise the broker would close the
   * channel, redeliver the message and the task would loop forever.
   * `false` turns the guard off (only if the broker's timeout is disabled).
   * @defaultValue `1_800_000` (30 minutes)
   */
  readonly ackDeadline?: number | string | false;
  /**
   * Records each transition (active, retrying, succeeded with its result,
   * dead with its error) for `queue.status()`, and acks a task it knows as
   * finished without running it again: a redelivery or a replayed copy of a
   * task that succeeded, or of one that is dead (unless its dead letter was
   * sent back with `taskq dead retry`). A message dead-lettered as `expired`
   * leaves the status as it was: a late copy must not end a live task.
   */
  readonly store?: ResultStore;
  /**
   * Largest message body the worker parses; bigger ones are dead-lettered
   * (reason `payload-too-large`) unread. Match the queue's `maxPayloadBytes`.
   * @defaultValue `1_048_576` (1 MiB)
   */
  readonly maxPayloadBytes?: number;
  /**
   * At start the worker asks the other workers of its prefix which task set
   * they serve (amqp transport; a fingerprint of the registry's task names).
   * A worker on one of its queues whose task set shares no task with this
   * one is another application on the same prefix: `'refuse'` makes
   * `start()` throw `PrefixClashError`, `'warn'` logs it at error level and
   * starts. A worker whose set overlaps but differs (another version of this
   * application, during a rolling deploy) is logged, never refused. Either
   * way a message whose task only the other worker has is passed back to
   * the queue for it (a bounded number of times), not dead-lettered.
   * @defaultValue `'refuse'`
   */
  readonly onForeignConsumer?: 'refuse' | 'warn';
  /**
   * How long a message written in an envelope version newer than this worker reads (its producer was upgraded
   * first) is passed back to its queue for an upgraded worker, without using an attempt, before it is dead-lettered
   * with reason `unsupported-version` (`taskq dead retry` sends it back once the workers are upgraded). See
   * "Upgrading a mixed fleet" in docs/operations.md. From 1 second to 7 days.
   * @defaultValue `3_600_000` (1 hour)
   */
  readonly versionWait?: number | string;
  /**
   * How often the worker announces itself on the transport's control plane
   * (id, host, pid, queues, concurrency, running count, version, start time),
   * for `queue.workers()` and `taskq workers`. A worker silent for two
   * intervals counts as gone.
   * @defaultValue `5_000`
   */
  readonly heartbeatInterval?: number | string;
  /**
   * Rate limits of whole queues, by queue (one of {@link queues}): at most `max` task starts in any window of `per`
   * across every worker that sets the same limit (give it to every worker of the queue). A task of a limited queue
   * waits for a token without using up an attempt; see docs/rate-limits.md.
   */
  readonly rateLimits?: Readonly<Record<string, RateLimit>>;
  /** @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /**
   * How long in-flight tasks may take to finish; after it their signals abort
   * and unfinished messages go back to the queue.
   * @defaultValue `30_000`
   */
  readonly timeout?: number;
}
