import type { TaskqErrorCode } from './error-codes.js';

/**
 * Every error taskq throws is a {@link TaskqError} with a stable string `code`.
 * Branch on `code` rather than `instanceof`: two installed copies of taskq
 * (a common monorepo accident) have two distinct classes but the same codes.
 */
export class TaskqError extends Error {
  /** Stable machine-readable code, e.g. `TASKQ_UNREGISTERED_TASK`; every code is listed in `ERROR_CODES`. */
  readonly code: TaskqErrorCode;

  constructor(code: TaskqErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A function was submitted that no {@link TaskRegistry} entry knows. */
export class UnregisteredTaskError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_UNREGISTERED_TASK', message);
  }
}

/** Registration would make a task id or a function ambiguous. */
export class DuplicateTaskError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_DUPLICATE_TASK', message);
  }
}

/** A task argument cannot be encoded; `path` names it, e.g. `args[0].owner`. */
export class UnserializableArgumentError extends TaskqError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('TASKQ_UNSERIALIZABLE_ARGUMENT', `${path}: ${message}`, options);
    this.path = path;
  }
}

/** A received message (or a part of it) could not be decoded. */
export class DecodeError extends TaskqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TASKQ_DECODE_FAILED', message, options);
  }
}

/** An option passed to a taskq factory is invalid; the message names it. */
export class InvalidOptionError extends TaskqError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('TASKQ_INVALID_OPTION', `option "${option}": ${message}`);
    this.option = option;
  }
}

/** The encoded task is larger than the configured limit. */
export class PayloadTooLargeError extends TaskqError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number) {
    super(
      'TASKQ_PAYLOAD_TOO_LARGE',
      `encoded task is ${size} bytes, over the limit of ${limit} bytes (option maxPayloadBytes)`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** The broker or transport failed; the message never contains credentials. */
export class TransportError extends TaskqError {
  constructor(message: string, options?: { cause?: unknown; code?: TaskqErrorCode }) {
    super(options?.code ?? 'TASKQ_TRANSPORT', message, options);
  }
}

/** A publish was not confirmed by the broker within its time bound. */
export class PublishTimeoutError extends TransportError {
  constructor(message: string) {
    super(message, { code: 'TASKQ_PUBLISH_TIMEOUT' });
  }
}

/** The broker could not route a message: the queue it was published to does not exist. */
export class PublishUnroutableError extends TransportError {
  constructor(message: string) {
    super(message, { code: 'TASKQ_PUBLISH_UNROUTABLE' });
  }
}

/** The broker refused a message (a negative confirm). */
export class PublishRefusedError extends TransportError {
  constructor(message: string) {
    super(message, { code: 'TASKQ_PUBLISH_REFUSED' });
  }
}

/**
 * This one message cannot be published as it is: its headers do not encode or
 * are too large, or the broker refused its size. Publishing it again would fail
 * again; the channel, the connection and other messages are not affected.
 */
export class UnpublishableMessageError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'TASKQ_UNPUBLISHABLE_MESSAGE' });
  }
}

/** The queue, worker or transport was used after it was closed. */
export class ClosedError extends TaskqError {
  constructor(what: string) {
    super('TASKQ_CLOSED', `${what} is closed`);
  }
}

/** A unit of work was used (submit, commit) after it was committed or rolled back. */
export class UnitOfWorkClosedError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_UNIT_OF_WORK_CLOSED', message);
  }
}

/** `handle.result()` gave up waiting: the task did not finish within the timeout. */
export class ResultTimeoutError extends TaskqError {
  readonly taskId: string;
  constructor(taskId: string, message: string) {
    super('TASKQ_RESULT_TIMEOUT', message);
    this.taskId = taskId;
  }
}

/** A worker was started twice, or configured (`use`, `on...`) after it started. */
export class WorkerStartedError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_WORKER_STARTED', message);
  }
}

/** The worker stopped before a running task finished: the task's `signal` is aborted with this reason. */
export class WorkerStoppingError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_WORKER_STOPPING', message);
  }
}

/** Thrown by a task to fail at once, without further attempts. */
export class NonRetryableError extends TaskqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TASKQ_NON_RETRYABLE', message, options);
  }
}

/**
 * Thrown by a task when the remote side said "slow down" (an HTTP 429 with Retry-After): every rate limit of the task
 * holds its starts for `retryAfter` across all workers, and the task runs again after it without using up an attempt.
 */
export class RateLimitedError extends TaskqError {
  /** How long the limits hold, in milliseconds. */
  readonly retryAfterMs: number;
  constructor(options: { readonly retryAfter: number | string; readonly message?: string; readonly cause?: unknown }) {
    const ms = retryAfterOf(options?.retryAfter);
    super('TASKQ_RATE_LIMITED', options.message ?? `rate limited by the remote side; retry after ${ms} ms`, {
      cause: options.cause,
    });
    this.retryAfterMs = ms;
  }
}

/** Most a "slow down" may hold a limit: one hour (a longer Retry-After is taken as an hour). */
const MAX_RETRY_AFTER_MS = 3_600_000;

function retryAfterOf(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0)
    return Math.min(Math.round(value), MAX_RETRY_AFTER_MS);
  const match = typeof value === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value) : null;
  if (!match)
    throw new InvalidOptionError(
      'retryAfter',
      `expected milliseconds or a duration like '30s', got ${JSON.stringify(value)}`,
    );
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1;
  return Math.min(Math.round(Number(match[1]) * unit), MAX_RETRY_AFTER_MS);
}

/** An attempt ran past its timeout; `currentTask().signal` was aborted. */
export class TaskTimeoutError extends TaskqError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('TASKQ_TASK_TIMEOUT', `task attempt timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The task was cancelled (`queue.cancel(id)`) while it ran: `currentTask().signal` is aborted with this reason. */
export class TaskCancelledError extends TaskqError {
  readonly id: string;
  constructor(id: string) {
    super('TASKQ_TASK_CANCELLED', `task ${id} was cancelled`);
    this.id = id;
  }
}

/** Pause, resume or cancel on a transport that has no control plane. */
export class NoControlPlaneError extends TaskqError {
  constructor(kind: string) {
    super('TASKQ_NO_CONTROL_PLANE', `the ${kind} transport has no control plane (pause, resume, cancel)`);
  }
}

/**
 * A message older than the worker's `maxMessageAge` (counted from when it became due); it is dead-lettered, not run.
 */
export class MessageExpiredError extends TaskqError {
  readonly ageMs: number;
  readonly maxAgeMs: number;
  constructor(ageMs: number, maxAgeMs: number) {
    super(
      'TASKQ_MESSAGE_EXPIRED',
      `the message became due ${ageMs} ms ago, over the worker's limit of ${maxAgeMs} ms (option maxMessageAge); it is not run`,
    );
    this.ageMs = ageMs;
    this.maxAgeMs = maxAgeMs;
  }
}

/** `currentTask()` was called outside a running task. */
export class NoTaskContextError extends TaskqError {
  constructor() {
    super('TASKQ_NO_TASK_CONTEXT', 'currentTask() was called outside a running task');
  }
}

/**
 * Another application's worker consumes this worker's queue: two applications
 * share a prefix on one broker. Thrown by `worker.start()` (option
 * `onForeignConsumer`), and the error of a task neither worker could run.
 */
export class PrefixClashError extends TaskqError {
  constructor(message: string) {
    super('TASKQ_PREFIX_CLASH', message);
  }
}

/**
 * A message is written in an envelope version newer than this worker reads (a producer upgraded before its workers).
 * The worker passes it back for a newer worker; after its `versionWait` it is dead-lettered `unsupported-version`,
 * which `taskq dead retry` sends back once the workers are upgraded.
 */
export class UnsupportedVersionError extends TaskqError {
  /** The version the message is written in. */
  readonly version: number;
  /** The newest version this worker reads. */
  readonly newest: number;
  constructor(version: number, newest: number, waitedMs?: number) {
    super(
      'TASKQ_UNSUPPORTED_VERSION',
      `the message is written in envelope version ${version}; this worker reads versions up to ${newest}` +
        (waitedMs === undefined
          ? ''
          : `. It waited ${waitedMs} ms for a worker that reads it (option versionWait); upgrade the workers, then \`taskq dead retry\` it`),
    );
    this.version = version;
    this.newest = newest;
  }
}

/** Reads the `code` of a taskq error, also across two installed copies. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
