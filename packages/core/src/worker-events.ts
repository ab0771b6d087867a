import type { ProgressValue } from './result-store.js';

/** Why a message went to the dead-letter queue. */
export type DeadLetterReason =
  | 'malformed-message'
  | 'payload-too-large'
  | 'bad-signature'
  | 'unknown-task'
  | 'undecodable-arguments'
  | 'non-retryable'
  | 'attempts-exhausted'
  | 'exceeded-ack-deadline'
  /** Older than the worker's `maxMessageAge`. */
  | 'expired'
  /**
   * Not in this worker's registry, and passed back many times for a worker with another task set on its queue that
   * never took it.
   */
  | 'prefix-clash'
  /**
   * Written in an envelope version newer than this worker reads, and no upgraded worker took it within the worker's
   * `versionWait`: upgrade the workers, then `taskq dead retry` it.
   */
  | 'unsupported-version';

interface TaskEventBase {
  readonly id: string;
  readonly name: string;
  readonly queue: string;
  readonly attempt: number;
  /** Trace id of the submit's trace context, when a tracer wrote one (see docs/observability.md). */
  readonly traceId?: string;
}

/** A task attempt started. */
export interface ActiveEvent extends TaskEventBase {
  readonly enqueuedAt: Date;
}

/** A task attempt succeeded. */
export interface CompletedEvent extends TaskEventBase {
  readonly result: unknown;
  readonly durationMs: number;
}

/** A running task reported progress (`currentTask().progress(value)`); every report, not throttled. */
export interface ProgressEvent extends TaskEventBase {
  readonly progress: ProgressValue;
}

/** A task attempt failed; `willRetry` tells whether another attempt is scheduled. */
export interface FailedEvent extends TaskEventBase {
  readonly error: unknown;
  readonly durationMs: number;
  readonly willRetry: boolean;
  /** Delay before the next attempt, when `willRetry`. */
  readonly retryInMs?: number;
}

/** A message was moved to the dead-letter queue. */
export interface DeadEvent {
  readonly id: string;
  readonly name: string | undefined;
  readonly queue: string;
  readonly reason: DeadLetterReason;
  readonly error: unknown;
}

/** Something went wrong in the worker itself (not in a task), e.g. the broker refused an ack. */
export interface WorkerErrorEvent {
  readonly message: string;
  readonly error: unknown;
}

/** Lifecycle events of a worker, for observers (logs, metrics, tests). */
export interface WorkerEvents {
  active: (event: ActiveEvent) => void;
  completed: (event: CompletedEvent) => void;
  progress: (event: ProgressEvent) => void;
  failed: (event: FailedEvent) => void;
  dead: (event: DeadEvent) => void;
  error: (event: WorkerErrorEvent) => void;
}
