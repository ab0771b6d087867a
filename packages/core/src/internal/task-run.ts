import type { CurrentTask } from '../context.js';
import type { ProcessEvent } from '../diagnostics.js';
import type { MetaValue } from '../envelope.js';
import type { TaskDefinition } from '../registry.js';
import type { ProgressValue } from '../result-store.js';
import { ProgressThrottle } from './progress-throttle.js';
import { checkProgress } from './task-index.js';

/** @internal Where a run's progress goes: the worker's event (each report) and the result store (throttled). */
export interface ProgressSink {
  event(run: TaskRun, value: ProgressValue): void;
  write(run: TaskRun, value: ProgressValue, at: Date): Promise<void>;
}

/** What per-task middleware gets: the running task plus its arguments and outcome. */
export interface TaskContext extends CurrentTask {
  /** The task definition being run (function and options); its name is `name`. */
  readonly definition: TaskDefinition;
  /** Decoded arguments; filled just before the task function is called (after outer middleware opened its scopes). */
  readonly args: readonly unknown[] | undefined;
  /** When the task was submitted. */
  readonly enqueuedAt: Date;
  /** Whether the transport delivered this message before. */
  readonly redelivered: boolean;
  /** The task's return value, once it returned. */
  readonly result: unknown;
}

/** @internal The mutable object behind `TaskContext` and `currentTask()`. */
export class TaskRun implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly queue: string;
  readonly meta: Readonly<Record<string, MetaValue>>;
  readonly definition: TaskDefinition;
  readonly enqueuedAt: Date;
  readonly redelivered: boolean;
  /** Trace context from the envelope, for log records. */
  readonly trace: Readonly<Record<string, string>> | undefined;
  args: readonly unknown[] | undefined = undefined;
  result: unknown = undefined;
  /** performance.now() when the attempt started. */
  readonly startedAt = performance.now();
  /** Set when the ack-deadline guard has already failed this attempt; its late outcome is ignored. */
  expired = false;
  /**
   * The attempt's `taskq:process` event when a tracer subscribes: the worker writes its outcome there. It is kept here,
   * on an object that dies with the attempt, not in a WeakMap keyed by the delivery: a delivery that waited in the
   * prefetch buffer is already in the old generation, and such an entry kept every event, and the span a subscriber
   * hung on it, alive until the next full collection (155 MB promoted per 100,000 traced tasks, 6–7 MB since).
   */
  traced: ProcessEvent | undefined = undefined;
  #locals: Map<string | symbol, unknown> | undefined;
  // Created on first use: most tasks never look at their signal, and the hot path stays allocation-light.
  #controller: AbortController | undefined;
  #abortReason: unknown;
  readonly #progressSink: ProgressSink | undefined;
  #progress: ProgressThrottle | undefined;

  constructor(fields: {
    id: string;
    attempt: number;
    maxAttempts: number;
    queue: string;
    meta: Record<string, MetaValue>;
    definition: TaskDefinition;
    enqueuedAt: number;
    redelivered: boolean;
    progress?: ProgressSink;
    trace?: Readonly<Record<string, string>>;
  }) {
    this.trace = fields.trace;
    this.#progressSink = fields.progress;
    this.id = fields.id;
    this.name = fields.definition.id;
    this.attempt = fields.attempt;
    this.maxAttempts = fields.maxAttempts;
    this.queue = fields.queue;
    this.meta = fields.meta;
    this.definition = fields.definition;
    this.enqueuedAt = new Date(fields.enqueuedAt);
    this.redelivered = fields.redelivered;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#abortReason !== undefined) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  get aborted(): boolean {
    return this.#abortReason !== undefined;
  }

  progress(value: ProgressValue): void {
    const checked = checkProgress(value);
    const sink = this.#progressSink;
    if (!sink) return;
    sink.event(this, checked);
    (this.#progress ??= new ProgressThrottle((v, at) => sink.write(this, v, at))).push(checked);
  }

  /**
   * Writes the last progress report: called before the outcome is recorded, so it lands first. Undefined when the task
   * reported none (most do not: nothing to wait for).
   */
  flushProgress(): Promise<void> | undefined {
    return this.#progress?.flush();
  }

  get<T = unknown>(key: string | symbol): T | undefined {
    return this.#locals?.get(key) as T | undefined;
  }

  set(key: string | symbol, value: unknown): void {
    (this.#locals ??= new Map()).set(key, value);
  }
}
