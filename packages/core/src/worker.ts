import { CodecSet } from './codecs/codec-set.js';
import { decodeArgsNow } from './codecs/decode.js';
import { runInTask } from './context.js';
import { type Envelope, HEADER, parseEnvelope } from './envelope.js';
import {
  ClosedError,
  DecodeError,
  type RateLimitedError,
  errorCode,
  InvalidOptionError,
  PayloadTooLargeError,
  TaskCancelledError,
  TaskqError,
  TaskTimeoutError,
  UnsupportedVersionError,
  WorkerStartedError,
  WorkerStoppingError,
} from './errors.js';
import { boundHeaders } from './internal/bounded-headers.js';
import { deadLetterOf, minimalDeadLetterOf } from './internal/dead-letter.js';
import { ForeignConsumers, type ForeignRoute } from './internal/foreign-consumers.js';
import { Intake, type Verdict } from './internal/intake.js';
import { longTimeout } from './internal/long-timeout.js';
import { StatusRecorder } from './internal/status-recorder.js';
import { TypedEmitter } from './internal/emitter.js';
import { type ProgressSink, TaskRun } from './internal/task-run.js';
import { TASKQ_VERSION, WorkerControl } from './internal/worker-control.js';
import { type Logger, useLogger } from './logger.js';
import type { TaskDefinition, TaskRegistry } from './registry.js';
import { checkSigningKeys, type SigningKey } from './signing.js';
import type { LifecycleHook, StopOptions, TaskMiddleware, WorkerOptions } from './worker-options.js';
import {
  backoffDelay,
  baseQueue,
  DEFAULT_PARTITIONS,
  parseDuration,
  partitionQueue,
  type ResolvedRateLimit,
  resolveBackoff,
  resolveRateLimit,
  type TaskOptions,
  validateTaskOptions,
} from './task-options.js';
import type { Delivery, MessageHeaders, RateLimitTokens, RateToken, Subscription, Transport } from './transport.js';
import type { DeadLetterReason, WorkerEvents } from './worker-events.js';
import {
  describeTransport,
  destinationOf,
  type ProcessEvent,
  type ProcessOutcome,
  processChannel,
  type ReceiveEvent,
  receiveChannel,
  readCarrier,
  traceIdOf,
} from './diagnostics.js';

export type { TaskContext } from './internal/task-run.js';
export type { LifecycleHook, StopOptions, TaskMiddleware, WorkerOptions } from './worker-options.js';

type State = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

const STOP_GRACE_MS = 1_000;

/** Runs tasks from a transport. Obtain one with {@link createWorker}. */
export class Worker {
  readonly registry: TaskRegistry;
  readonly transport: Transport;
  readonly concurrency: number;
  readonly queues: readonly string[];
  readonly logger: Logger;
  readonly #codecs: CodecSet;
  readonly #defaults: TaskOptions;
  readonly #retryIf: WorkerOptions['retryIf'];
  readonly #intake: Intake;
  readonly #onForeign: 'refuse' | 'warn';
  // Made at start(): the registry may still gain tasks after the worker is built (Nest registers its @Task() methods then).
  #foreign: ForeignConsumers | undefined;
  readonly #ackLimitMs: number | undefined;
  readonly #heartbeatMs: number;
  readonly #recorder: StatusRecorder | undefined;
  readonly #maxPayloadBytes: number;
  readonly #versionWaitMs: number;
  readonly #events: TypedEmitter<WorkerEvents>;
  readonly #startup: LifecycleHook[] = [];
  readonly #shutdown: LifecycleHook[] = [];
  readonly #middleware: TaskMiddleware[] = [];
  readonly #running = new Map<Delivery, TaskRun | undefined>();
  readonly #cancelled = new WeakSet<TaskRun>();
  /** Queue-level rate limits (option rateLimits), by queue. */
  readonly #queueLimits = new Map<string, ResolvedRateLimit>();
  /** The rate limits joined so far, by name (`task.<id>`, `queue.<name>`); joined on first use. */
  readonly #limiters = new Map<string, Promise<RateLimitTokens>>();
  /** Aborted on stop: tasks waiting for a rate-limit token go back to their queue. */
  readonly #stopWaiting = new AbortController();
  #state: State = 'idle';
  #control: WorkerControl | undefined;
  #subscription: Subscription | undefined;
  #ackGuard: NodeJS.Timeout | undefined;
  #release: (() => Promise<void>) | undefined;
  #idle: (() => void) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    if (!options || typeof options.registry?.get !== 'function')
      throw new InvalidOptionError('registry', 'expected a TaskRegistry');
    if (!options.transport || typeof options.transport.consume !== 'function')
      throw new InvalidOptionError('transport', 'expected a transport such as amqp({ url }) or memory()');
    const concurrency = options.concurrency ?? 10;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65_535)
      throw new InvalidOptionError('concurrency', `expected an integer 1-65535, got ${concurrency}`);
    const queues = options.queues ?? ['default'];
    if (!Array.isArray(queues) || queues.length === 0)
      throw new InvalidOptionError('queues', 'expected a non-empty array of queue names');
    for (const queue of queues) validateTaskOptions({ queue }, 'queues[]');
    validateTaskOptions(options.defaults ?? {}, 'defaults');
    if (options.retryIf !== undefined && typeof options.retryIf !== 'function')
      throw new InvalidOptionError('retryIf', 'expected a function');
    this.registry = options.registry;
    this.transport = options.transport;
    this.concurrency = concurrency;
    this.queues = [...queues];
    this.logger = useLogger(options.logger);
    this.#codecs = new CodecSet(options.codecs ?? []);
    this.#defaults = options.defaults ?? {};
    this.#retryIf = options.retryIf;
    const keys = options.signingKeys;
    const maxAge =
      options.maxMessageAge === undefined ? undefined : parseDuration(options.maxMessageAge, 'maxMessageAge');
    if (maxAge === 0) throw new InvalidOptionError('maxMessageAge', 'expected a positive duration, got 0');
    const onForeign = options.onForeignConsumer ?? 'refuse';
    if (onForeign !== 'refuse' && onForeign !== 'warn')
      throw new InvalidOptionError(
        'onForeignConsumer',
        `expected 'refuse' or 'warn', got ${JSON.stringify(onForeign)}`,
      );
    this.#onForeign = onForeign;
    const rateLimits = options.rateLimits ?? {};
    if (typeof rateLimits !== 'object' || rateLimits === null)
      throw new InvalidOptionError('rateLimits', 'expected an object { [queue]: { max, per } }');
    for (const [queue, limit] of Object.entries(rateLimits)) {
      if (!this.queues.includes(queue))
        throw new InvalidOptionError(
          `rateLimits["${queue}"]`,
          `"${queue}" is not one of this worker's queues (${this.queues.join(', ')})`,
        );
      this.#queueLimits.set(queue, resolveRateLimit(limit, `rateLimits["${queue}"]`));
    }
    this.#intake = new Intake(
      this.registry,
      this.#defaults,
      keys === undefined
        ? undefined
        : checkSigningKeys(Array.isArray(keys) ? (keys as SigningKey[]) : [keys as SigningKey], 'signingKeys'),
      maxAge,
    );
    this.#events = new TypedEmitter<WorkerEvents>(this.logger);
    if (options.store !== undefined && typeof options.store?.started !== 'function')
      throw new InvalidOptionError('store', 'expected a ResultStore such as memoryResultStore()');
    this.#recorder =
      options.store &&
      new StatusRecorder(options.store, this.#codecs, this.logger, (message, error) => this.#emitError(message, error));
    const maxPayload = options.maxPayloadBytes ?? 1_048_576;
    if (!Number.isInteger(maxPayload) || maxPayload < 1024)
      throw new InvalidOptionError('maxPayloadBytes', `expected an integer >= 1024, got ${maxPayload}`);
    this.#maxPayloadBytes = maxPayload;
    this.#versionWaitMs = parseDuration(options.versionWait ?? 3_600_000, 'versionWait');
    if (this.#versionWaitMs < 1_000 || this.#versionWaitMs > MAX_VERSION_WAIT_MS)
      throw new InvalidOptionError('versionWait', `expected 1 second to 7 days, got ${this.#versionWaitMs} ms`);
    this.#heartbeatMs = parseDuration(options.heartbeatInterval ?? 5_000, 'heartbeatInterval');
    if (this.#heartbeatMs < 100 || this.#heartbeatMs > 3_600_000)
      throw new InvalidOptionError('heartbeatInterval', `expected 100 ms to 1 hour, got ${this.#heartbeatMs} ms`);
    const deadline = options.ackDeadline ?? 1_800_000;
    if (deadline === false) this.#ackLimitMs = undefined;
    else {
      const ms = parseDuration(deadline, 'ackDeadline');
      if (ms <= ACK_MARGIN_MS)
        throw new InvalidOptionError('ackDeadline', `expected more than ${ACK_MARGIN_MS} ms, got ${ms}`);
      this.#ackLimitMs = ms - ACK_MARGIN_MS;
    }
  }

  /** Runs once per process, before the first task (open a pool, build an application context). */
  onStartup(hook: LifecycleHook): this {
    this.#assertConfigurable('onStartup');
    this.#startup.push(hook);
    return this;
  }

  /** Runs once per process, after the last task finished (close what `onStartup` opened). Runs in reverse order. */
  onShutdown(hook: LifecycleHook): this {
    this.#assertConfigurable('onShutdown');
    this.#shutdown.push(hook);
    return this;
  }

  /** Adds per-task middleware; the first added is the outermost. */
  use(middleware: TaskMiddleware): this {
    this.#assertConfigurable('use');
    if (typeof middleware !== 'function')
      throw new InvalidOptionError('use', 'expected a function (ctx, next) => Promise<void>');
    this.#middleware.push(middleware);
    return this;
  }

  on<E extends keyof WorkerEvents>(event: E, listener: WorkerEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  off<E extends keyof WorkerEvents>(event: E, listener: WorkerEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  /** Number of tasks running right now. */
  get active(): number {
    return this.#running.size;
  }

  get state(): State {
    return this.#state;
  }

  /** Runs the start-up hooks, then starts consuming. */
  async start(): Promise<void> {
    if (this.#state !== 'idle')
      throw new WorkerStartedError(
        `worker.start() was called while the worker is ${this.#state}; a worker starts once`,
      );
    this.#state = 'starting';
    this.#release = this.transport.retain();
    try {
      for (const hook of this.#startup) await hook();
      const partitions = this.#partitions();
      if (this.transport.rateLimit === undefined && this.#limited())
        throw new InvalidOptionError(
          'transport',
          `rate limits need a transport that shares them between workers (amqp() or memory()); ${this.transport.kind} cannot`,
        );
      this.#foreign = new ForeignConsumers(this.registry, this.queues, this.#onForeign, this.logger);
      const control = new WorkerControl(this.transport.control, this.queues, this.logger, (id) => this.#cancelRun(id));
      this.#control = control;
      await control.load();
      this.#subscription = await this.transport.consume(
        {
          queues: [...this.queues, ...partitions.keys()],
          prefetch: this.concurrency,
          prefetchOf: partitions,
          presence: this.#foreign.presence(),
          paused: control.paused,
          onControl: control.onControl,
        },
        this.#onDelivery,
      );
      control.attach(this.#subscription);
      // Joined now rather than on the first task: the limit is seeded before work arrives, and holds are heard.
      for (const { name, limit } of this.#startLimits()) await this.#limiter(name, limit);
      const card = this.#foreign.card;
      const startedAt = new Date();
      control.startHeartbeat(
        () => ({
          id: card.instance,
          host: card.host,
          pid: card.pid,
          queues: this.queues,
          concurrency: this.concurrency,
          running: this.#running.size,
          version: TASKQ_VERSION,
          startedAt,
          intervalMs: this.#heartbeatMs,
        }),
        this.#heartbeatMs,
      );
      if (this.#ackLimitMs !== undefined) {
        // One sweep for all running tasks instead of a timer per task: the hot path stays timer-free.
        this.#ackGuard = setInterval(() => this.#enforceAckDeadline(), Math.min(1_000, this.#ackLimitMs / 4));
        this.#ackGuard.unref();
      }
    } catch (error) {
      this.#state = 'stopped';
      await this.#release();
      throw error;
    }
    this.#state = 'running';
    // Through the worker's own logger, so a worker started outside the CLI (a Nest application context) says it too.
    this.logger.info('worker started', {
      queues: this.queues.join(','),
      concurrency: this.concurrency,
      prefix: this.transport.prefix,
      transport: this.transport.kind,
    });
  }

  /**
   * Stops consuming, lets in-flight tasks finish (and acks them), runs the
   * shut-down hooks and releases the transport. Safe to call more than once.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options.timeout ?? 30_000);
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(timeoutMs: number): Promise<void> {
    if (this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopping';
    this.#control?.detach();
    this.#stopWaiting.abort(new WorkerStoppingError('worker stopped'));
    try {
      await this.#subscription?.cancel();
    } catch (error) {
      this.#emitError('cancelling the consumer failed', error);
    }
    if (!(await this.#drain(timeoutMs))) {
      const reason = new WorkerStoppingError(`worker stopped: the task did not finish within ${timeoutMs} ms`);
      for (const run of this.#running.values()) run?.abort(reason);
      if (!(await this.#drain(STOP_GRACE_MS))) {
        // Unfinished messages go back to the queue for another worker; their late results are discarded.
        for (const delivery of this.#running.keys()) {
          this.#outcome(delivery, 'requeued');
          delivery.requeue();
        }
        this.logger.warn(`worker stop: ${this.#running.size} task(s) did not finish and were returned to the queue`);
        this.#running.clear();
      }
    }
    try {
      // Every delivery is settled: what the subscription still holds (key partitions it owns) can go to other workers.
      await this.#subscription?.close?.();
    } catch (error) {
      this.#emitError('closing the consumer failed', error);
    }
    for (const hook of [...this.#shutdown].reverse()) {
      try {
        await hook();
      } catch (error) {
        this.#emitError('a shutdown hook failed', error);
      }
    }
    this.#state = 'stopped';
    clearInterval(this.#ackGuard);
    for (const limiter of this.#limiters.values()) await limiter.then((l) => l.close()).catch(() => {});
    await this.#release?.();
  }

  /**
   * The key partitions this worker consumes, with their prefetch (`maxPerKey`): those of every keyed task registered
   * on one of its queues.
   */
  #partitions(): Map<string, number> {
    const partitions = new Map<string, number>();
    for (const id of this.registry.ids()) {
      const options = (this.registry.get(id) as TaskDefinition).options;
      const queue = options.queue ?? 'default';
      if (!options.concurrencyKey || !this.queues.includes(queue)) continue;
      for (let n = 0; n < (options.partitions ?? DEFAULT_PARTITIONS); n++)
        partitions.set(partitionQueue(queue, n), options.maxPerKey ?? 1);
    }
    return partitions;
  }

  /** The limits of this worker's queues and of the tasks registered on them. */
  #startLimits(): { name: string; limit: ResolvedRateLimit }[] {
    const limits = [...this.#queueLimits].map(([queue, limit]) => ({ name: `queue.${queue}`, limit }));
    for (const id of this.registry.ids()) {
      const options = (this.registry.get(id) as TaskDefinition).options;
      if (options.rateLimit && this.queues.includes(options.queue ?? 'default'))
        limits.push({ name: `task.${id}`, limit: resolveRateLimit(options.rateLimit, `tasks["${id}"].rateLimit`) });
    }
    return limits;
  }

  #limited(): boolean {
    return this.#queueLimits.size > 0 || this.registry.ids().some((id) => this.registry.get(id)?.options.rateLimit);
  }

  /** The rate limits a task run needs tokens of: its own, then its queue's. */
  #limitsOf(definition: TaskDefinition, queue: string): { name: string; limit: ResolvedRateLimit }[] {
    if (this.#queueLimits.size === 0 && !definition.options.rateLimit) return NO_LIMITS;
    const limits: { name: string; limit: ResolvedRateLimit }[] = [];
    const own = definition.options.rateLimit;
    if (own) limits.push({ name: `task.${definition.id}`, limit: resolveRateLimit(own, 'rateLimit') });
    const base = baseQueue(queue);
    const ofQueue = this.#queueLimits.get(base);
    if (ofQueue) limits.push({ name: `queue.${base}`, limit: ofQueue });
    return limits;
  }

  #limiter(name: string, limit: ResolvedRateLimit): Promise<RateLimitTokens> {
    let limiter = this.#limiters.get(name);
    if (!limiter) {
      limiter = (this.transport.rateLimit as NonNullable<Transport['rateLimit']>).call(this.transport, name, limit);
      // A failed join is tried again by the next task that needs the limit.
      limiter.catch(() => this.#limiters.delete(name));
      this.#limiters.set(name, limiter);
    }
    return limiter;
  }

  /**
   * Takes one token of each limit, in order. The message stays unacknowledged meanwhile (it uses no attempt and holds
   * only its own queue's prefetch). Undefined when the message was settled instead: the worker stops (back to the
   * queue), or the wait grew long enough to near the broker's ack timeout (sent back for later).
   */
  async #acquire(
    delivery: Delivery,
    limits: readonly { name: string; limit: ResolvedRateLimit }[],
  ): Promise<RateToken[] | undefined> {
    const tokens: RateToken[] = [];
    const waitMs = Math.min(
      this.#ackLimitMs === undefined ? MAX_TOKEN_WAIT_MS : this.#ackLimitMs / 2,
      MAX_TOKEN_WAIT_MS,
    );
    const signal = AbortSignal.any([this.#stopWaiting.signal, AbortSignal.timeout(waitMs)]);
    try {
      for (const { name, limit } of limits) {
        const limiter = await this.#limiter(name, limit);
        for (;;) {
          const token = await limiter.take(signal);
          if (token.valid) {
            tokens.push(token);
            break;
          }
        }
      }
      return tokens;
    } catch (error) {
      for (const token of tokens) token.giveBack();
      if (this.#stopWaiting.signal.aborted) {
        this.#outcome(delivery, 'requeued');
        if (this.#settle(delivery)) delivery.requeue();
      } else if (signal.aborted) {
        this.logger.debug('waited long for a rate-limit token; the task goes back to its queue for later', {
          id: delivery.id,
          queue: delivery.queue,
        });
        await this.#postpone(delivery, Math.max(...limits.map((l) => l.limit.perMs)));
      } else {
        this.#emitError(`joining a rate limit failed; task ${delivery.id} goes back to its queue`, error);
        await sleep(1_000);
        if (this.#settle(delivery)) delivery.requeue();
      }
      return undefined;
    }
  }

  /** A cancel broadcast: a task of this id running here has its signal aborted, and is not retried. */
  #cancelRun(id: string): void {
    for (const run of this.#running.values()) {
      if (run?.id !== id || run.aborted) continue;
      this.#cancelled.add(run);
      run.abort(new TaskCancelledError(id));
    }
  }

  /** A cancelled run that failed (most often from its aborted signal): acked, neither retried nor dead-lettered. */
  #endCancelled(delivery: Delivery, run: TaskRun, durationMs: number): void {
    this.#cancelled.delete(run);
    if (!this.#settle(delivery)) return;
    delivery.ack();
    // Settled: the delivery is no longer among the running ones, the run still holds its event.
    if (run.traced) run.traced.outcome = 'cancelled';
    this.logger.info('task cancelled', this.#logFields(run));
    this.#events.emit('failed', {
      id: run.id,
      name: run.name,
      queue: run.queue,
      attempt: run.attempt,
      error: new TaskCancelledError(run.id),
      durationMs,
      willRetry: false,
      traceId: traceIdOf(run.trace),
    });
  }

  #enforceAckDeadline(): void {
    const limit = this.#ackLimitMs as number;
    const now = performance.now();
    for (const [delivery, run] of this.#running) {
      if (!run || run.expired || now - run.startedAt < limit) continue;
      run.expired = true;
      const error = new TaskTimeoutError(limit);
      error.message = `task ran for over ${limit} ms, too close to the broker's consumer timeout (option ackDeadline); it is dead-lettered instead of being redelivered in a loop`;
      run.abort(error);
      this.#events.emit('failed', {
        id: run.id,
        name: run.name,
        queue: run.queue,
        attempt: run.attempt,
        error,
        durationMs: now - run.startedAt,
        willRetry: false,
      });
      if (run.traced) run.traced.error = error;
      void this.#deadLetter(delivery, 'exceeded-ack-deadline', error, run.name, run.attempt);
    }
  }

  #drain(timeoutMs: number): Promise<boolean> {
    if (this.#running.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idle = undefined;
        resolve(false);
      }, timeoutMs);
      this.#idle = () => {
        clearTimeout(timer);
        this.#idle = undefined;
        resolve(true);
      };
    });
  }

  readonly #progressSink: ProgressSink = {
    event: (run, progress) => {
      if (this.#events.has('progress'))
        this.#events.emit('progress', { id: run.id, name: run.name, queue: run.queue, attempt: run.attempt, progress });
    },
    write: (run, value, at) => this.#recorder?.progress(run, value, at) ?? Promise.resolve(),
  };

  readonly #onDelivery = (delivery: Delivery): void => {
    this.#running.set(delivery, undefined);
    this.#process(delivery).catch((error) => this.#emitError('processing a message failed', error));
  };

  async #process(delivery: Delivery): Promise<void> {
    const received = receiveChannel.hasSubscribers ? this.#traceReceive(delivery) : this.#receive(delivery);
    if (received.kind === 'refused') return this.#deadLetter(delivery, received.reason, received.error, undefined);
    if (received.kind === 'newer') return this.#awaitNewer(delivery, received.route);
    const { envelope, verdict } = received;
    if (verdict.kind === 'dead') return this.#refuse(delivery, envelope, verdict);
    if (verdict.kind === 'later') return this.#postpone(delivery, verdict.delayMs);
    const limits = this.#limitsOf(verdict.definition, delivery.queue);
    let tokens: RateToken[] | undefined;
    if (limits.length > 0) {
      tokens = await this.#acquire(delivery, limits);
      if (!tokens) return;
    }
    const run = new TaskRun({
      id: envelope.id,
      attempt: verdict.fields.attempt,
      maxAttempts: verdict.maxAttempts,
      queue: delivery.queue,
      meta: envelope.meta,
      definition: verdict.definition,
      enqueuedAt: envelope.ts,
      redelivered: delivery.redelivered,
      progress: this.#progressSink,
      trace: envelope.trace,
    });
    this.#running.set(delivery, run);
    if (!processChannel.hasSubscribers) return this.#run(delivery, envelope, verdict, run, undefined, tokens);
    const event: ProcessEvent = {
      task: {
        id: run.id,
        name: run.name,
        queue: run.queue,
        destination: destinationOf(this.transport, run.queue),
        delayMs: undefined,
        attempt: run.attempt,
        maxAttempts: run.maxAttempts,
        enqueuedAt: envelope.ts,
        dueAt: verdict.fields.due,
        redelivered: delivery.redelivered,
      },
      carrier: readCarrier(envelope.trace),
      transport: describeTransport(this.transport),
    };
    run.traced = event;
    return processChannel.tracePromise(() => this.#run(delivery, envelope, verdict, run, event, tokens), event);
  }

  /** Reads and checks a message: what the worker does with it. */
  #receive(delivery: Delivery): Received {
    if (delivery.body.length > this.#maxPayloadBytes) {
      return {
        kind: 'refused',
        reason: 'payload-too-large',
        error: new PayloadTooLargeError(delivery.body.length, this.#maxPayloadBytes),
      };
    }
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(delivery.body, delivery.id);
    } catch (error) {
      if (error instanceof UnsupportedVersionError) return { kind: 'newer', route: this.#newerRoute(delivery, error) };
      return { kind: 'refused', reason: 'malformed-message', error };
    }
    return { kind: 'checked', envelope, verdict: this.#intake.check(delivery, envelope) };
  }

  /**
   * A message of a newer envelope version than this worker reads: back to its queue for a worker that reads it, after
   * a pause that doubles from 1 second up to a minute, until it has waited `versionWait`; then dead.
   */
  #newerRoute(delivery: Delivery, error: UnsupportedVersionError): NewerRoute {
    const raw = delivery.headers[HEADER.versionWait];
    const waited = typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0 ? raw : 0;
    if (waited >= this.#versionWaitMs)
      return { kind: 'dead', error: new UnsupportedVersionError(error.version, error.newest, waited) };
    const delayMs = Math.min(
      this.#versionWaitMs - waited,
      MAX_VERSION_PAUSE_MS,
      Math.max(MIN_VERSION_PAUSE_MS, waited),
    );
    return { kind: 'wait', delayMs, headers: { ...delivery.headers, [HEADER.versionWait]: waited + delayMs } };
  }

  /** Passes a newer-version message back (its attempt unchanged), or dead-letters it once it has waited enough. */
  #awaitNewer(delivery: Delivery, route: NewerRoute): Promise<void> {
    if (route.kind === 'dead') return this.#deadLetter(delivery, 'unsupported-version', route.error, undefined);
    this.logger.debug('message of a newer envelope version passed back to its queue for an upgraded worker', {
      id: delivery.id,
      queue: delivery.queue,
      retryInMs: route.delayMs,
    });
    return this.#postpone(delivery, route.delayMs, route.headers);
  }

  #traceReceive(delivery: Delivery): Received {
    const event: ReceiveEvent = {
      id: delivery.id,
      queue: delivery.queue,
      destination: destinationOf(this.transport, delivery.queue),
      transport: describeTransport(this.transport),
      bodyBytes: delivery.body.length,
      redelivered: delivery.redelivered,
    };
    return receiveChannel.traceSync(() => {
      const received = this.#receive(delivery);
      if (received.kind === 'refused') {
        event.verdict = 'dead';
        event.reason = received.reason;
        return received;
      }
      if (received.kind === 'newer') {
        event.verdict = received.route.kind === 'wait' ? 'later' : 'dead';
        if (received.route.kind === 'dead') event.reason = 'unsupported-version';
        return received;
      }
      event.name = received.envelope.task;
      event.carrier = readCarrier(received.envelope.trace);
      event.verdict = received.verdict.kind;
      if (received.verdict.kind === 'dead') {
        // What #refuse will do: a message passed back for a worker with another task set is not dead-lettered.
        const route = this.#foreignRoute(delivery, received.envelope, received.verdict);
        if (route?.kind === 'pass') event.verdict = 'later';
        else event.reason = route?.kind === 'dead' ? 'prefix-clash' : received.verdict.reason;
      }
      return received;
    }, event);
  }

  #run(
    delivery: Delivery,
    envelope: Envelope,
    verdict: Extract<Verdict, { kind: 'run' }>,
    run: TaskRun,
    event: ProcessEvent | undefined,
    tokens?: RateToken[],
  ): Promise<void> {
    const running = this.#runTask(delivery, envelope, verdict, run, event, tokens);
    if (!tokens) return running;
    // Tokens the run did not use (it was skipped, or failed before the task function was called) go back at once.
    return running.finally(() => {
      for (const token of tokens) if (token.valid) token.giveBack();
    });
  }

  async #runTask(
    delivery: Delivery,
    envelope: Envelope,
    verdict: Extract<Verdict, { kind: 'run' }>,
    run: TaskRun,
    event: ProcessEvent | undefined,
    tokens: RateToken[] | undefined,
  ): Promise<void> {
    const { definition, fields } = verdict;
    const attempt = fields.attempt;
    if (this.#recorder && !(await this.#recorder.start(run, fields.deadRetries, this.#foreign?.card))) {
      // Already finished: a redelivery after a crash between the run and its ack, or a replayed copy. Do not run it
      // twice.
      const skipped = this.#logFields(run);
      if (await this.#recorder.isCancelled(run.id)) this.logger.debug('skipping a cancelled task', skipped);
      else if (delivery.redelivered)
        this.logger.debug('skipping a redelivered task the result store knows as finished', skipped);
      else
        this.logger.warn(
          'skipping a task the result store knows as finished (a replayed or duplicated message)',
          skipped,
        );
      if (event) event.outcome = 'skipped';
      if (this.#settle(delivery)) delivery.ack();
      return;
    }
    if (this.#events.has('active'))
      this.#events.emit('active', {
        id: run.id,
        name: run.name,
        queue: run.queue,
        attempt,
        enqueuedAt: run.enqueuedAt,
        traceId: traceIdOf(run.trace),
      });
    const started = performance.now();
    try {
      // Awaited only when it is a promise: a task that finishes synchronously costs no extra turn of the loop.
      const execution = this.#execute(run, envelope, definition, event, tokens);
      if (execution !== undefined) await execution;
    } catch (error) {
      const durationMs = performance.now() - started;
      if (event) {
        event.durationMs = durationMs;
        event.error = error;
      }
      await run.flushProgress();
      return this.#failed(delivery, run, envelope, error, durationMs);
    }
    if (event) event.durationMs = performance.now() - started;
    const flushing = run.flushProgress();
    if (flushing) await flushing;
    if (run.expired || !this.#running.has(delivery)) return;
    // The result is stored before the ack: a crash in between redelivers a task the store knows succeeded.
    if (this.#recorder) await this.#recorder.success(run);
    if (!this.#settle(delivery)) return;
    delivery.ack();
    if (event) event.outcome = 'completed';
    if (this.#events.has('completed')) {
      this.#events.emit('completed', {
        id: run.id,
        name: run.name,
        queue: run.queue,
        attempt,
        result: run.result,
        durationMs: performance.now() - started,
        traceId: traceIdOf(run.trace),
      });
    }
  }

  /** Fields of a log record about one task: id, name, queue, attempt, and the trace id when its submit was traced. */
  #logFields(run: TaskRun): Record<string, unknown> {
    const fields: Record<string, unknown> = { id: run.id, task: run.name, queue: run.queue, attempt: run.attempt };
    const traceId = traceIdOf(run.trace);
    if (traceId) fields.traceId = traceId;
    return fields;
  }

  /** Records what became of a traced attempt (no-op when it is not traced). */
  #outcome(delivery: Delivery, outcome: ProcessOutcome, reason?: DeadLetterReason): void {
    const event = this.#running.get(delivery)?.traced;
    if (!event) return;
    event.outcome = outcome;
    if (reason) event.reason = reason;
  }

  /**
   * Decodes the arguments and calls the task function inside the task context, through the middleware and the timeout.
   * Without middleware or timeout it makes no promise of its own: undefined when the task finished
   * synchronously (it throws what the task threw), else the promise of its end.
   */
  #execute(
    run: TaskRun,
    envelope: Envelope,
    definition: TaskDefinition,
    event: ProcessEvent | undefined,
    tokens: RateToken[] | undefined,
  ): Promise<void> | undefined {
    const chain = this.#middleware;
    const timeoutMs = envelope.opts?.timeoutMs ?? timeoutOf(definition.options) ?? timeoutOf(this.#defaults);
    const enter = event?.enter;
    if (chain.length === 0 && timeoutMs === undefined) {
      if (!enter) return runInTask(run, () => this.#invoke(run, envelope.args, definition, tokens));
      // Inside a tracer's context (its attempt span), still without a promise of taskq's own.
      return enter(() => runInTask(run, () => this.#invoke(run, envelope.args, definition, tokens)));
    }
    const invoke = async (): Promise<void> => {
      await this.#invoke(run, envelope.args, definition, tokens);
    };
    const step = (i: number): Promise<void> => (i === chain.length ? invoke() : chain[i](run, () => step(i + 1)));
    const execution = enter ? enter(() => runInTask(run, () => step(0))) : runInTask(run, () => step(0));
    return timeoutMs === undefined ? execution : withTimeout(execution, run, timeoutMs);
  }

  /** Decodes the arguments, then calls the task function: synchronously as far as both allow. */
  #invoke(
    run: TaskRun,
    encoded: unknown[],
    definition: TaskDefinition,
    tokens: RateToken[] | undefined,
  ): Promise<void> | undefined {
    let args: unknown[] | Promise<unknown[]>;
    try {
      args = decodeArgsNow(encoded, this.#codecs);
    } catch (error) {
      throw undecodable(error);
    }
    if (!Array.isArray(args))
      return args.then(
        (decoded) => callTask(run, definition, tokens, decoded),
        (error: unknown) => {
          throw undecodable(error);
        },
      );
    return callTask(run, definition, tokens, args);
  }

  async #failed(
    delivery: Delivery,
    run: TaskRun,
    envelope: Envelope,
    error: unknown,
    durationMs: number,
  ): Promise<void> {
    if (run.expired || !this.#running.has(delivery)) return; // handled by the ack-deadline guard or a forced stop
    if (this.#cancelled.has(run)) return this.#endCancelled(delivery, run, durationMs);
    if (errorCode(error) === 'TASKQ_RATE_LIMITED') return this.#slowDown(delivery, run, error as RateLimitedError);
    const undecodable = typeof error === 'object' && error !== null && UNDECODABLE in error;
    const nonRetryable =
      undecodable ||
      errorCode(error) === 'TASKQ_NON_RETRYABLE' ||
      (this.#retryIf !== undefined && !this.#safeRetryIf(error, run));
    const willRetry = !nonRetryable && run.attempt < run.maxAttempts;
    let retryInMs: number | undefined;
    if (willRetry) {
      const backoff =
        envelope.opts?.backoff ?? resolveBackoff(run.definition.options.backoff ?? this.#defaults.backoff, 'backoff');
      retryInMs = backoffDelay(backoff, run.attempt + 1);
    }
    this.#events.emit('failed', {
      id: run.id,
      name: run.name,
      queue: run.queue,
      attempt: run.attempt,
      error,
      durationMs,
      willRetry,
      retryInMs,
      traceId: traceIdOf(run.trace),
    });
    if (this.#recorder) await this.#recorder.failure(run.id, error, !willRetry);
    if (!willRetry) {
      const reason: DeadLetterReason = undecodable
        ? 'undecodable-arguments'
        : nonRetryable
          ? 'non-retryable'
          : 'attempts-exhausted';
      return this.#deadLetter(delivery, reason, error, run.name, run.attempt);
    }
    try {
      // Publish the next attempt before acking this one: a crash in between means a duplicate attempt, never a lost
      // task.
      await this.transport.publish({
        id: run.id,
        queue: delivery.queue,
        body: delivery.body,
        // Bounded: a received header set too large to publish again must not keep the task from its next attempt.
        headers: this.#intake.retryHeaders(
          delivery,
          { ...boundHeaders(delivery.headers), [HEADER.attempt]: run.attempt + 1 },
          run.attempt + 1,
          retryInMs,
        ),
        delayMs: retryInMs || undefined,
      });
    } catch (publishError) {
      if (errorCode(publishError) === UNPUBLISHABLE) {
        // Requeued, it would run again and fail the same way, for ever: it cannot be retried, so it is dead.
        if (this.#recorder) await this.#recorder.failure(run.id, publishError, true);
        return this.#deadLetter(delivery, 'non-retryable', publishError, run.name, run.attempt);
      }
      this.#emitError(
        `scheduling attempt ${run.attempt + 1} of task ${run.id} failed; the message goes back to the queue`,
        publishError,
      );
      this.#outcome(delivery, 'requeued');
      if (this.#settle(delivery)) delivery.requeue();
      return;
    }
    this.#outcome(delivery, 'retried');
    if (this.#settle(delivery)) delivery.ack();
  }

  /**
   * The remote side said "slow down": every limit of the task holds for the time it asked, on every worker, and the
   * task goes back for after it, as the same attempt.
   */
  async #slowDown(delivery: Delivery, run: TaskRun, error: RateLimitedError): Promise<void> {
    const ms = typeof error.retryAfterMs === 'number' ? error.retryAfterMs : 1_000;
    for (const { name, limit } of this.#limitsOf(run.definition, delivery.queue)) {
      try {
        await (await this.#limiter(name, limit)).hold(ms);
      } catch (holdError) {
        this.#emitError(`telling the workers to hold rate limit ${name} failed`, holdError);
      }
    }
    this.logger.info(`task rate limited by the remote side; it runs again in ${ms} ms, as the same attempt`, {
      ...this.#logFields(run),
      retryAfterMs: ms,
    });
    if (this.#recorder) await this.#recorder.failure(run.id, error, false);
    this.#outcome(delivery, 'retried');
    await this.#postpone(delivery, ms);
  }

  #safeRetryIf(error: unknown, run: TaskRun): boolean {
    try {
      return this.#retryIf?.(error, run) ?? true;
    } catch (predicateError) {
      this.#emitError('the retryIf predicate threw; retrying as if it returned true', predicateError);
      return true;
    }
  }

  async #deadLetter(
    delivery: Delivery,
    reason: DeadLetterReason,
    error: unknown,
    name: string | undefined,
    attempt = 1,
  ): Promise<void> {
    const run = this.#running.get(delivery);
    try {
      await this.#storeDeadLetter(delivery, reason, error, attempt);
    } catch (publishError) {
      // Nothing is dropped without a record: if the dead letter cannot be stored the message stays in its queue.
      this.#emitError(`dead-lettering message ${delivery.id} failed; it goes back to the queue`, publishError);
      this.#outcome(delivery, 'requeued');
      if (this.#settle(delivery)) delivery.requeue();
      return;
    }
    this.#outcome(delivery, 'dead', reason);
    // Only for failures the worker itself decided on: an unsigned or malformed message must not be able to touch a real
    // task's status.
    if (
      this.#recorder &&
      (reason === 'unknown-task' || reason === 'exceeded-ack-deadline') &&
      isUuidLike(delivery.id)
    ) {
      await this.#recorder.failure(delivery.id, error, true);
    }
    if (this.#settle(delivery)) delivery.ack();
    this.logger.warn(
      `task dead-lettered (${reason})`,
      run ? this.#logFields(run) : { id: delivery.id, task: name, queue: delivery.queue, attempt },
    );
    this.#events.emit('dead', { id: delivery.id, name, queue: delivery.queue, reason, error });
  }

  /**
   * A message the intake refused. One whose task this worker lacks while a
   * worker with another task set that has it shares the queue (two
   * applications on one prefix, or two versions during a deploy) is passed
   * back for that worker, a bounded number of times, not dead-lettered.
   */
  #refuse(delivery: Delivery, envelope: Envelope, verdict: Extract<Verdict, { kind: 'dead' }>): Promise<void> {
    const route = this.#foreignRoute(delivery, envelope, verdict);
    if (route?.kind === 'pass') {
      this.logger.debug('task passed back to its queue for a worker with another task set', {
        id: delivery.id,
        task: envelope.task,
        queue: delivery.queue,
      });
      return this.#postpone(delivery, route.delayMs, route.headers);
    }
    if (route?.kind === 'dead')
      return this.#deadLetter(delivery, 'prefix-clash', route.error, envelope.task, verdict.attempt);
    return this.#deadLetter(delivery, verdict.reason, verdict.error, envelope.task, verdict.attempt);
  }

  /** Where a refused message whose task this worker lacks goes when a worker with another task set serves it. */
  #foreignRoute(
    delivery: Delivery,
    envelope: Envelope,
    verdict: Extract<Verdict, { kind: 'dead' }>,
  ): ForeignRoute | undefined {
    const lacking =
      verdict.reason === 'unknown-task' || (verdict.reason === 'bad-signature' && !this.registry.get(envelope.task));
    return lacking ? this.#foreign?.route(envelope.task, delivery) : undefined;
  }

  /**
   * A signed message that came before its signed due time goes back for the rest of its delay (nothing runs early);
   * also a message passed back for another worker.
   */
  async #postpone(delivery: Delivery, delayMs: number, headers = delivery.headers): Promise<void> {
    try {
      await this.transport.publish({ id: delivery.id, queue: delivery.queue, body: delivery.body, headers, delayMs });
    } catch (error) {
      this.#emitError(
        `sending message ${delivery.id} back to its queue for later failed; it goes back to the queue now`,
        error,
      );
      if (this.#settle(delivery)) delivery.requeue();
      return;
    }
    if (this.#settle(delivery)) delivery.ack();
  }

  /**
   * Stores the dead letter with a bounded header set (and a body prefix when it
   * is over the payload limit). One the transport still refuses as it is goes
   * body-only with its reason, then as a body prefix: never back to its queue to loop.
   */
  async #storeDeadLetter(delivery: Delivery, reason: DeadLetterReason, error: unknown, attempt: number): Promise<void> {
    const letters = [
      () => deadLetterOf(delivery, reason, error, attempt, this.#maxPayloadBytes),
      () => minimalDeadLetterOf(delivery, reason, error, attempt, this.#maxPayloadBytes),
      () => minimalDeadLetterOf(delivery, reason, error, attempt, 0),
    ];
    for (const [i, letter] of letters.entries()) {
      try {
        // A verified message's letter carries the signature of its one retry (`taskq dead retry` holds no key).
        const dead = letter();
        return await this.transport.deadLetter({
          ...dead,
          headers: this.#intake.deadLetterHeaders(delivery, dead.headers),
        });
      } catch (refusal) {
        if (errorCode(refusal) !== UNPUBLISHABLE || i === letters.length - 1) throw refusal;
        this.logger.warn(`the dead letter of message ${delivery.id} was refused as it was; storing less of it`, {
          id: delivery.id,
          error: refusal,
        });
      }
    }
  }

  /** Marks a delivery finished; false when a forced stop already returned it to the queue. */
  #settle(delivery: Delivery): boolean {
    if (!this.#running.delete(delivery)) return false;
    if (this.#running.size === 0) this.#idle?.();
    return true;
  }

  #emitError(message: string, error: unknown): void {
    this.logger.error(message, { error });
    this.#events.emit('error', { message, error });
  }

  #assertConfigurable(method: string): void {
    if (this.#state === 'stopped' || this.#state === 'stopping') throw new ClosedError('the worker');
    if (this.#state !== 'idle') throw new WorkerStartedError(`worker.${method}() must be called before worker.start()`);
  }
}

/** What reading and checking a message decided. */
type Received =
  | { readonly kind: 'refused'; readonly reason: DeadLetterReason; readonly error: unknown }
  /** Written in an envelope version newer than this worker reads. */
  | { readonly kind: 'newer'; readonly route: NewerRoute }
  | { readonly kind: 'checked'; readonly envelope: Envelope; readonly verdict: Verdict };

/** Where a message of a newer envelope version goes: back to its queue for a while, or, after `versionWait`, dead. */
type NewerRoute =
  | { readonly kind: 'wait'; readonly delayMs: number; readonly headers: MessageHeaders }
  | { readonly kind: 'dead'; readonly error: UnsupportedVersionError };

/** The pauses of a newer-version message between two passes: doubling from the first to the last. */
const MIN_VERSION_PAUSE_MS = 1_000;
const MAX_VERSION_PAUSE_MS = 60_000;
const MAX_VERSION_WAIT_MS = 7 * 24 * 3_600_000;

const UNDECODABLE = Symbol('taskq.undecodable');

const NO_LIMITS: { name: string; limit: ResolvedRateLimit }[] = [];

/** Code of a publish refused for what the message is: trying it again as it is cannot help. */
const UNPUBLISHABLE = 'TASKQ_UNPUBLISHABLE_MESSAGE';

/**
 * Why the arguments could not be decoded, marked so the attempt is not retried. A codec may flag a failure as
 * transient (e.g. the database was briefly unreachable while loading an entity): then it is retried, unmarked.
 */
function undecodable(error: unknown): unknown {
  if (isRetryable(error)) return error;
  return Object.assign(
    error instanceof TaskqError ? error : new DecodeError('arguments could not be decoded', { cause: error }),
    { [UNDECODABLE]: true },
  );
}

/**
 * Calls the task function with its decoded arguments. Its tokens are used at the last moment, right before the call:
 * a token comes back one window after this, so the window is counted from (no earlier than) the task's start.
 */
function callTask(
  run: TaskRun,
  definition: TaskDefinition,
  tokens: RateToken[] | undefined,
  args: unknown[],
): Promise<void> | undefined {
  run.args = args;
  if (tokens) for (const token of tokens) token.use();
  const result = (definition.fn as (...args: unknown[]) => unknown)(...args);
  if (isThenable(result))
    return Promise.resolve(result).then((value) => {
      run.result = value;
    });
  run.result = result;
  return undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** True when the error, or an error in its `cause` chain, says `retryable: true`. */
function isRetryable(error: unknown): boolean {
  for (
    let e: unknown = error, depth = 0;
    typeof e === 'object' && e !== null && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if ((e as { retryable?: unknown }).retryable === true) return true;
  }
  return false;
}

function isUuidLike(id: string): boolean {
  return id.length === 36;
}

/** Longest a message waits for a rate-limit token before it is sent back to its queue for later. */
const MAX_TOKEN_WAIT_MS = 600_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Room left before the broker's consumer timeout to fail, dead-letter and ack the message. */
const ACK_MARGIN_MS = 5_000;

function timeoutOf(options: TaskOptions): number | undefined {
  return options.timeout === undefined ? undefined : parseDuration(options.timeout, 'timeout');
}

function withTimeout(execution: Promise<void>, run: TaskRun, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // Not a plain setTimeout: above 2^31-1 ms (about 24.8 days) it would fire at once and fail every attempt.
    const cancel = longTimeout(() => {
      const error = new TaskTimeoutError(timeoutMs);
      run.abort(error);
      reject(error);
    }, timeoutMs);
    execution.then(
      () => {
        cancel();
        resolve();
      },
      (error: unknown) => {
        cancel();
        reject(error);
      },
    );
  });
}

/** Creates a worker. Nothing connects until `start()`. */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options);
}
