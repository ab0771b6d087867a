/**
 * The messages the parent (run.ts) and its children exchange over the
 * `child_process.fork` IPC channel. Timestamps are clock.ts `now()` values,
 * taken in the child where the event happened, so the parent's own scheduling
 * never enters a figure.
 */
import type { LoadShape } from './load.js';

/** Every system a bench child can drive (tools that take a system name check it against this). */
export const SYSTEM_NAMES = [
  'raw',
  'raw-taskq-format',
  'taskq-amqp',
  'taskq-quorum',
  'taskq-traced',
  'taskq-sampled',
  'taskq-metrics',
  'taskq-context',
  'bullmq',
  'bullmq-traced',
] as const;

export type SystemName = (typeof SYSTEM_NAMES)[number];

/** The task a taskq child submits or runs: the no-op `add`, the scale rows' I/O-bound `wait` or CPU-bound `hash`. */
export type BenchTask = 'add' | 'wait' | 'hash';

/** What the scale rows change in a taskq child (the other systems take none of it). */
export interface DriverSetup {
  /** Broker URLs, first tried first (a cluster: each worker starts on another node); default BENCH_AMQP_URL. */
  readonly urls?: readonly string[];
  readonly task?: BenchTask;
}

/**
 * CPU figures are `process.cpuUsage()` user + system in microseconds, a
 * running total; the parent subtracts two of them.
 */
export interface MemorySample {
  /** Resident set size, bytes. */
  readonly rss: number;
  readonly heapUsed: number;
  /** Memory of C++ objects bound to JS objects, Buffers included (where RSS growth outside the heap shows up). */
  readonly external: number;
  /** True when `global.gc()` ran right before the sample (child started with --expose-gc). */
  readonly afterGc: boolean;
}

/** argv[2] of a worker child, as JSON. */
export interface WorkerConfig {
  readonly role: 'worker';
  readonly system: SystemName;
  readonly queue: string;
  /** The worker reports `done` when this many tasks completed. */
  readonly expected: number;
  readonly concurrency: number;
  /** Record submit-to-start latencies (see tasks.ts). */
  readonly latency: boolean;
  /** Take this many evenly spaced memory samples along the way (soak). */
  readonly samples: number;
  /**
   * Several workers share one queue (scale rows): none knows when the whole run is done, so the worker
   * reports `done` when the parent sends `report`, whatever its count; `expected` is then ignored.
   */
  readonly reportOnRequest?: boolean;
  /** How often the worker reports its count; default PROGRESS_EVERY_MS. */
  readonly progressEveryMs?: number;
  readonly setup?: DriverSetup;
}

/** argv[2] of a producer child, as JSON. */
export interface ProducerConfig {
  readonly role: 'producer';
  readonly system: SystemName;
  readonly queue: string;
  readonly count: number;
  readonly shape: LoadShape;
  readonly setup?: DriverSetup;
}

/** argv[2] of the in-process (memory transport) child, as JSON. */
export interface InProcessConfig {
  readonly role: 'inprocess';
  readonly measure: 'submit' | 'e2e' | 'latency';
  readonly count: number;
  readonly concurrency: number;
  readonly shape: LoadShape;
}

/** argv[2] of the outbox child (taskq + TypeORM on PostgreSQL), as JSON. */
export interface OutboxConfig {
  readonly role: 'outbox';
  /**
   * `transactions`: submit `count` tasks in transactions; `baseline`: `count` transactions with the same INSERT and no
   * taskq; `after-commit`: the baseline's transactions, each followed by a direct submit once it committed (no
   * outbox); `relay`: leave `count` rows in the outbox, then sweep them.
   */
  readonly measure: 'transactions' | 'baseline' | 'after-commit' | 'relay';
  readonly schema: string;
  readonly queue: string;
  readonly count: number;
  readonly perTransaction: number;
  readonly inFlight: number;
  readonly poolSize: number;
  readonly batchSize: number;
  /** The pool's `application_name`: the parent counts these PostgreSQL backends' CPU (and not other clients'). */
  readonly applicationName: string;
}

export type ChildConfig = WorkerConfig | ProducerConfig | InProcessConfig | OutboxConfig;

export type ChildMessage =
  /** Connected and set up; for a producer, waiting for `go`. */
  | { readonly type: 'ready'; readonly memory: MemorySample; readonly cpuUs: number }
  /** Tasks confirmed (producer) or completed (worker) so far. */
  | { readonly type: 'progress'; readonly count: number }
  /** Producer: right before the first submit. */
  | { readonly type: 'started'; readonly at: number; readonly cpuUs: number }
  /** Producer: every submit confirmed. */
  | { readonly type: 'confirmed'; readonly at: number; readonly count: number; readonly cpuUs: number }
  /** Worker: the expected number of tasks completed. */
  | {
      readonly type: 'done';
      readonly count: number;
      readonly firstAt: number;
      readonly lastAt: number;
      readonly memory: MemorySample;
      readonly cpuUs: number;
      readonly latencies: readonly number[];
    }
  /** Worker (soak): a memory sample after `count` completions. */
  | { readonly type: 'memory'; readonly count: number; readonly memory: MemorySample }
  /** In-process child: the whole measurement. */
  | ({ readonly type: 'result' } & InProcessResult)
  /**
   * Outbox child: every transaction committed and published (or, for the relay,
   * the sweep finished). `commitToPublish` is one value per transaction, ms from
   * its COMMIT resolving to the broker confirm of its tasks; `unconfirmed` counts
   * transactions whose tasks were not published after the commit (left to a relay).
   */
  | {
      readonly type: 'outbox-done';
      readonly at: number;
      readonly cpuUs: number;
      readonly transactions: number;
      readonly tasks: number;
      readonly commitToPublish: readonly number[];
      /** Per transaction, ms from its COMMIT resolving to its first publish being called (taskq's part). */
      readonly commitToSend: readonly number[];
      readonly unconfirmed: number;
    }
  | { readonly type: 'error'; readonly message: string };

export type ParentMessage = { readonly type: 'go' } | { readonly type: 'stop' } | { readonly type: 'report' };

/** What the in-process (memory transport) child measures. */
export interface InProcessResult {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly count: number;
  readonly before: MemorySample;
  readonly after: MemorySample;
  /** CPU this process used from the first submit to the last task (producer and worker together). */
  readonly cpuUs: number;
  readonly latencies: readonly number[];
}
