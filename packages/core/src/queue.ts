import { CodecSet } from './codecs/codec-set.js';
import type { Codec } from './codecs/types.js';
import { encodeArgs } from './codecs/encode.js';
import { decodeArgs } from './codecs/decode.js';
import { describeError } from './internal/dead-letter.js';
import { isFinished, type ResultStore, type TaskStatus } from './result-store.js';
import { type WatchOptions, watchStatus } from './watch.js';
import { lazyArgs } from './internal/task-index.js';
import { bindQueue } from './bound-queue.js';
import {
  currentUnitOfWork,
  inUnitOfWork,
  type PreparedTask,
  UnitOfWork,
  type UnitOfWorkOptions,
} from './unit-of-work.js';
import type { BoundTaskQueue, Submission, SubmitMiddleware, TaskQueue } from './task-queue.js';
import {
  encodeEnvelope,
  ENVELOPE_VERSION,
  type Envelope,
  type EnvelopeOptions,
  type EnvelopeVersion,
  HEADER,
  type MetaValue,
  OLDEST_ENVELOPE_VERSION,
} from './envelope.js';
import { ClosedError, errorCode, InvalidOptionError, NoControlPlaneError, PayloadTooLargeError } from './errors.js';
import { TaskHandle } from './task-handle.js';
import {
  boundCarrier,
  describeTransport,
  destinationOf,
  EMPTY_CARRIER,
  publishChannel,
  type PublishEvent,
  type SubmitEvent,
  submitChannel,
  type TaskDescription,
  type TraceCarrier,
} from './diagnostics.js';

export { TaskHandle, TaskFailedError, type ResultOptions } from './task-handle.js';
export type { TaskQueue } from './task-queue.js';
import { uuidv7, uuidv7Time } from './internal/uuid.js';
import { LiveWorkers } from './internal/live-workers.js';
import type { TaskDefinition, TaskFunction, TaskRegistry } from './registry.js';
import { checkSigningKeys, type SigningKey, signMessage } from './signing.js';
import {
  DEFAULT_PARTITIONS,
  MAX_KEY_LENGTH,
  parseDuration,
  partitionOf,
  partitionQueue,
  resolveBackoff,
  type SubmitOptions,
  validateTaskOptions,
} from './task-options.js';
import type { ControlPlane, MessageHeaders, OutgoingMessage, Transport, WorkerHeartbeat } from './transport.js';

/** Options of {@link createQueue}. */
export interface QueueOptions {
  /** The registry shared with the workers: ids are looked up by function. */
  readonly registry: TaskRegistry;
  /** Where tasks go: `amqp({ url })` or `memory()`. Nothing connects until the first submit. */
  readonly transport: Transport;
  /** Extra argument codecs (entities, requests, your value types); tried before the built-ins. */
  readonly codecs?: readonly Codec[];
  /** Options applied to every submit unless a task or `with()` overrides them. */
  readonly defaults?: SubmitOptions;
  /**
   * Largest encoded task, in bytes; bigger ones are refused at submit.
   * @defaultValue `1_048_576` (1 MiB)
   */
  readonly maxPayloadBytes?: number;
  /** HMAC key: every task is signed so that workers with the key run only tasks from holders of it. */
  readonly signingKey?: SigningKey;
  /**
   * Status and results (`queue.status(id)`, `handle.result()`), deduplication keys. Use the same store in the workers.
   */
  readonly store?: ResultStore;
  /**
   * The envelope version tasks are written in. Pin it to the oldest version the workers of the fleet read while a
   * deploy has workers of an earlier release running (see "Upgrading a mixed fleet" in docs/operations.md): `2` is
   * read by the release before version 3, `1` by every taskq release.
   * @defaultValue `3` (the current version)
   */
  readonly envelopeVersion?: EnvelopeVersion;
}

const DEFAULT_MAX_PAYLOAD = 1_048_576;

class QueueCore {
  readonly registry: TaskRegistry;
  readonly transport: Transport;
  readonly codecs: CodecSet;
  readonly maxPayloadBytes: number;
  readonly signingKey: Buffer | undefined;
  readonly store: ResultStore | undefined;
  readonly envelopeVersion: EnvelopeVersion;
  readonly middleware: SubmitMiddleware[] = [];
  closed = false;
  readonly #release: () => Promise<void>;

  constructor(options: QueueOptions) {
    if (!options || typeof options.registry?.require !== 'function')
      throw new InvalidOptionError('registry', 'expected a TaskRegistry');
    if (!options.transport || typeof options.transport.publish !== 'function')
      throw new InvalidOptionError('transport', 'expected a transport such as amqp({ url }) or memory()');
    const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(max) || max < 1024)
      throw new InvalidOptionError('maxPayloadBytes', `expected an integer >= 1024, got ${max}`);
    this.registry = options.registry;
    this.transport = options.transport;
    this.codecs = new CodecSet(options.codecs ?? []);
    this.maxPayloadBytes = max;
    this.signingKey =
      options.signingKey === undefined ? undefined : checkSigningKeys([options.signingKey], 'signingKey')[0];
    if (options.store !== undefined && typeof options.store?.enqueued !== 'function')
      throw new InvalidOptionError('store', 'expected a ResultStore such as memoryResultStore()');
    this.store = options.store;
    const version = options.envelopeVersion ?? ENVELOPE_VERSION;
    if (!Number.isInteger(version) || version < OLDEST_ENVELOPE_VERSION || version > ENVELOPE_VERSION)
      throw new InvalidOptionError(
        'envelopeVersion',
        `expected an envelope version from ${OLDEST_ENVELOPE_VERSION} to ${ENVELOPE_VERSION}, got ${JSON.stringify(version)}`,
      );
    this.envelopeVersion = version as EnvelopeVersion;
    this.#release = this.transport.retain();
  }

  /**
   * Encodes one call; synchronous unless a middleware or an async codec is involved (the common case stays
   * promise-free).
   */
  prepare<F extends TaskFunction>(
    fn: F,
    args: readonly unknown[],
    options: SubmitOptions,
    id: string = options.id ?? uuidv7(),
    trace?: TraceCarrier,
  ): PreparedTask | Promise<PreparedTask> {
    if (this.closed) throw new ClosedError('the queue');
    const definition = this.registry.require(fn);
    const merged = definition.options.concurrencyKey
      ? keyedOptions(definition, args, options)
      : mergeOptions(definition.options, options);
    if (this.middleware.length > 0) return this.#prepareWithMiddleware(id, definition.id, args, {}, merged, trace);
    const encoded = encodeArgs(args, this.codecs);
    return Array.isArray(encoded)
      ? this.build(id, definition.id, encoded, NO_META, merged, trace)
      : encoded.then((e) => this.build(id, definition.id, e, NO_META, merged, trace));
  }

  async #prepareWithMiddleware(
    id: string,
    task: string,
    args: readonly unknown[],
    meta: Record<string, MetaValue>,
    options: SubmitOptions,
    trace: TraceCarrier | undefined,
  ): Promise<PreparedTask> {
    const submission: Submission = { id, task, args, options, meta };
    let encoded: unknown[] | undefined;
    await runSubmitChain(this.middleware, submission, async () => {
      encoded = await encodeArgs(args, this.codecs);
    });
    if (!encoded) throw new InvalidOptionError('use', 'a submit middleware did not call next()');
    return this.build(id, task, encoded, meta, options, trace);
  }

  build(
    id: string,
    task: string,
    args: unknown[],
    meta: Record<string, MetaValue>,
    options: SubmitOptions,
    carrier?: TraceCarrier,
  ): PreparedTask {
    const version = this.envelopeVersion;
    const ts = submitTime(id, version);
    const trace = carrier && boundCarrier(carrier);
    const envelope: Envelope = { v: version, id, task, args, meta, ts, opts: envelopeOptions(options) };
    if (trace) (envelope as { trace?: TraceCarrier }).trace = trace;
    const body = encodeEnvelope(envelope, version);
    if (body.length > this.maxPayloadBytes) throw new PayloadTooLargeError(body.length, this.maxPayloadBytes);
    const queue = options.queue ?? 'default';
    const delayMs = delayOf(options, ts);
    const headers = this.#headers(
      body,
      version >= 3 ? id : undefined,
      queue,
      ts,
      delayMs === undefined ? undefined : ts + delayMs,
    );
    const message: OutgoingMessage = { id, queue, body, headers, priority: options.priority, delayMs };
    const handle = new TaskHandle(this.readStatus, id, task, queue, this.cancel);
    return trace ? { handle, message, trace } : { handle, message };
  }

  /** What a `submit` event says about one task, before it is encoded (its carrier is not written yet). */
  describe(fn: TaskFunction, options: SubmitOptions, id: string): TaskDescription {
    if (this.closed) throw new ClosedError('the queue');
    const definition = this.registry.require(fn);
    const merged = mergeOptions(definition.options, options);
    const queue = merged.queue ?? 'default';
    return {
      id,
      name: definition.id,
      queue,
      destination: destinationOf(this.transport, queue),
      delayMs: delayOf(merged, Date.now()),
    };
  }

  /**
   * A first attempt carries no headers unless it is delayed or signed (the task id and name are in the body, attempt 1
   * is the default): every header costs encoding in the client and parsing in the broker, per message.
   */
  #headers(body: Buffer, id: string | undefined, queue: string, ts: number, due: number | undefined): MessageHeaders {
    if (!this.signingKey) return due === undefined ? NO_HEADERS : { [HEADER.due]: due };
    const signature = signMessage(body, { id, queue, attempt: 1, deadRetries: 0, due: due ?? ts }, this.signingKey);
    return due === undefined ? { [HEADER.signature]: signature } : { [HEADER.due]: due, [HEADER.signature]: signature };
  }

  /**
   * Records the tasks as queued (with a store), then publishes; a failed publish is recorded, never left as "queued".
   */
  readonly publish = async (tasks: readonly PreparedTask[]): Promise<void> => {
    const store = this.store;
    if (store) {
      const now = new Date();
      await store.enqueued(
        tasks.map((t) => ({
          id: t.handle.id,
          name: t.handle.name,
          queue: t.handle.queue,
          enqueuedAt: now,
          args: lazyArgs(t.message.body),
        })),
      );
    }
    try {
      if (tasks.length === 1) await this.transport.publish(tasks[0].message);
      else await this.transport.publishMany(tasks.map((t) => t.message));
    } catch (error) {
      if (store) {
        const { message } = describeError(error);
        const at = new Date();
        await Promise.allSettled(
          tasks.map((t) =>
            store.failed(t.handle.id, { message: `publishing failed: ${message}`, code: errorCode(error) }, true, at),
          ),
        );
      }
      throw error;
    }
  };

  /**
   * A unit of work's commit publishes through this one: tasks created earlier go out now, which a tracer sees as a
   * `publish` event (a direct submit's publish is part of its `submit` event).
   */
  readonly publishCreated = (tasks: readonly PreparedTask[]): Promise<void> => {
    if (!publishChannel.hasSubscribers) return this.publish(tasks);
    const event: PublishEvent = {
      tasks: tasks.map((t) => ({
        id: t.handle.id,
        name: t.handle.name,
        queue: t.handle.queue,
        destination: destinationOf(this.transport, t.handle.queue),
        delayMs: t.message.delayMs,
        carrier: t.trace ?? EMPTY_CARRIER,
      })),
      transport: describeTransport(this.transport),
    };
    return publishChannel.tracePromise(
      () => (event.enter ? event.enter(() => this.publish(tasks)) : this.publish(tasks)),
      event,
    );
  };

  /**
   * A traced `submit()`/`submitMany()`: ids are allocated first so that the `start` subscribers see them, and write
   * the carrier every envelope then carries.
   */
  traceSubmit<T>(
    fn: TaskFunction,
    count: number,
    options: SubmitOptions,
    run: (ids: readonly string[], carrier: TraceCarrier) => Promise<T>,
  ): Promise<T> {
    const ids: string[] = [];
    const tasks: TaskDescription[] = [];
    for (let i = 0; i < count; i++) {
      const id = (count === 1 && options.id) || uuidv7();
      ids.push(id);
      tasks.push(this.describe(fn, options, id));
    }
    const event: SubmitEvent = {
      tasks,
      carrier: {},
      deferred: currentUnitOfWork() !== undefined,
      transport: describeTransport(this.transport),
    };
    return submitChannel.tracePromise(
      () => (event.enter ? event.enter(() => run(ids, event.carrier)) : run(ids, event.carrier)),
      event,
    );
  }

  /** Publishes now, or hands the tasks to the open unit of work. */
  async dispatch(tasks: readonly PreparedTask[], keys: readonly string[]): Promise<void> {
    const release = async (): Promise<void> => {
      if (!this.store) return;
      for (let i = 0; i < keys.length; i++) if (keys[i]) await this.store.releaseKey(keys[i], tasks[i].handle.id);
    };
    const uow = currentUnitOfWork();
    if (uow) return uow.add(tasks, this.publishCreated, release);
    try {
      await this.publish(tasks);
    } catch (error) {
      await release().catch(() => {});
      throw error;
    }
  }

  /** With a key: the handle of an unfinished task holding it, or undefined when this task now holds it. */
  async claim(prepared: PreparedTask, key: string): Promise<TaskHandle | undefined> {
    if (!this.store)
      throw new InvalidOptionError('key', 'deduplication keys need a result store (createQueue({ store }))');
    const holder = await this.store.claimKey(key, prepared.handle.id, prepared.handle.name);
    return holder === prepared.handle.id
      ? undefined
      : new TaskHandle(this.readStatus, holder, prepared.handle.name, prepared.handle.queue, this.cancel);
  }

  readonly readStatus = (id: string): Promise<TaskStatus | null> => this.status(id);
  /**
   * Without asking the live workers whether an active task's worker is gone (`lost`): a stream reads on every
   * change, and the first such question waits for the workers' answers, long enough to miss changes in between.
   */
  readonly readStoredStatus = (id: string): Promise<TaskStatus | null> => this.status(id, false);

  controlPlane(): ControlPlane {
    if (this.closed) throw new ClosedError('the queue');
    const control = this.transport.control;
    if (!control) throw new NoControlPlaneError(this.transport.kind);
    return control;
  }

  /**
   * With a store: marks the task cancelled unless it finished, then tells the
   * workers (one running it aborts its signal). Without one, only the broadcast.
   * In a unit of work both happen at its commit, and not at all on rollback.
   */
  readonly cancel = async (id: string): Promise<boolean> => {
    if (typeof id !== 'string' || id === '' || id.length > 255)
      throw new InvalidOptionError('id', 'expected a task id (a non-empty string up to 255 characters)');
    const control = this.controlPlane();
    const store = this.store;
    const broadcast = () => control.publish({ kind: 'cancel', id });
    const uow = currentUnitOfWork();
    if (uow) {
      // The answer is the status now; the cancel itself waits for the commit.
      const status = store ? await store.get(id) : null;
      uow.afterCommit(async () => {
        if (store?.cancel) await store.cancel(id, new Date());
        await broadcast();
      });
      return status !== null && !isFinished(status.state);
    }
    if (!store?.cancel) {
      await broadcast();
      return false;
    }
    const changed = await store.cancel(id, new Date());
    if (changed) await broadcast();
    return changed;
  };

  /** Asks every worker for a heartbeat and collects the answers for `waitMs`. */
  async workers(waitMs: number): Promise<WorkerHeartbeat[]> {
    if (!Number.isInteger(waitMs) || waitMs < 1 || waitMs > 60_000)
      throw new InvalidOptionError('wait', `expected 1-60000 ms, got ${waitMs}`);
    const control = this.controlPlane();
    const heard = new Map<string, WorkerHeartbeat>();
    const stop = await control.watchHeartbeats((beat) => heard.set(beat.id, beat));
    try {
      await control.publish({ kind: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    } finally {
      await stop();
    }
    return [...heard.values()].sort(
      (a, b) => a.host.localeCompare(b.host) || a.pid - b.pid || a.id.localeCompare(b.id),
    );
  }

  async setPaused(queue: string, paused: boolean): Promise<void> {
    validateTaskOptions({ queue }, 'queue');
    await this.controlPlane().setPaused(queue, paused);
  }

  async status(id: string, liveness = true): Promise<TaskStatus | null> {
    if (!this.store)
      throw new InvalidOptionError('store', 'queue.status() needs a result store: createQueue({ store })');
    const stored = await this.store.get(id);
    if (!stored) return null;
    if (
      liveness &&
      stored.state === 'active' &&
      stored.workerId !== undefined &&
      this.transport.control &&
      !this.closed
    ) {
      const registry = this.#liveWorkers(this.transport.control);
      const live = await registry.isLive(stored.workerId).catch(() => {
        // It could not listen (the broker was away): the next question makes a new one.
        if (this.#live === registry) this.#live = undefined;
        void registry.close();
        return undefined;
      });
      if (live !== undefined) return { ...stored, lost: !live } as TaskStatus;
    }
    if (stored.result === undefined) return stored as TaskStatus;
    const [result] = await decodeArgs(JSON.parse(stored.result), this.codecs);
    return { ...stored, result };
  }

  #live: LiveWorkers | undefined;

  #liveWorkers(control: ControlPlane): LiveWorkers {
    if (this.#live) return this.#live;
    const live = new LiveWorkers(control, () => {
      if (this.#live === live) this.#live = undefined;
    });
    this.#live = live;
    return live;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.#live?.close();
    await this.#release();
  }
}

const EMPTY: SubmitOptions = Object.freeze({});

function isEmpty(options: object): boolean {
  for (const _ in options) return false;
  return true;
}

function mergeOptions(task: SubmitOptions, submit: SubmitOptions): SubmitOptions {
  if (isEmpty(task)) return submit;
  return isEmpty(submit) ? task : { ...task, ...submit };
}

/**
 * A keyed task goes to the partition of its key: the key is computed here, from the arguments as given, and only the
 * partition travels (in the queue name, which the signature covers), so a key never appears in a message.
 */
function keyedOptions(definition: TaskDefinition, args: readonly unknown[], options: SubmitOptions): SubmitOptions {
  const own = definition.options;
  const queue = own.queue ?? 'default';
  if (options.queue !== undefined && options.queue !== queue)
    throw new InvalidOptionError(
      'queue',
      `task "${definition.id}" has a concurrencyKey: it runs on its registered queue "${queue}" (whose partitions hold the per-key limit), not on "${options.queue}"`,
    );
  let key: unknown;
  try {
    key = (own.concurrencyKey as (args: readonly unknown[]) => unknown)(args);
  } catch (error) {
    throw new InvalidOptionError('concurrencyKey', `task "${definition.id}": the key function threw: ${String(error)}`);
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)
    throw new InvalidOptionError(
      'concurrencyKey',
      `task "${definition.id}": expected a non-empty string of at most ${MAX_KEY_LENGTH} characters, got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
    );
  const partition = partitionOf(key, own.partitions ?? DEFAULT_PARTITIONS);
  return { ...own, ...options, queue: partitionQueue(queue, partition) };
}

/**
 * How far the clock may have moved between a task id made by this submit and its envelope, for the id's time to count
 * as the submit time (a version-3 body then leaves `ts` out). Submit's own work takes microseconds; an id given by
 * the caller, or made long before, gets the time of now, written out.
 */
const SAME_SUBMIT_MS = 10;

function submitTime(id: string, version: EnvelopeVersion): number {
  const now = Date.now();
  if (version < 3) return now;
  const idTime = uuidv7Time(id);
  return idTime !== undefined && now >= idTime && now - idTime <= SAME_SUBMIT_MS ? idTime : now;
}

function delayOf(options: SubmitOptions, now: number): number | undefined {
  return (
    (options.at
      ? Math.max(0, options.at.getTime() - now)
      : options.delay === undefined
        ? undefined
        : parseDuration(options.delay, 'delay')) || undefined
  );
}

function envelopeOptions(options: SubmitOptions): EnvelopeOptions | undefined {
  if (options.attempts === undefined && options.backoff === undefined && options.timeout === undefined)
    return undefined;
  const opts: EnvelopeOptions = {};
  if (options.attempts !== undefined) opts.attempts = options.attempts;
  if (options.backoff !== undefined) opts.backoff = resolveBackoff(options.backoff, 'backoff');
  if (options.timeout !== undefined) opts.timeoutMs = parseDuration(options.timeout, 'timeout');
  return opts;
}

async function runSubmitChain(
  chain: readonly SubmitMiddleware[],
  submission: Submission,
  last: () => Promise<void>,
): Promise<void> {
  const step = (i: number): Promise<void> => (i === chain.length ? last() : chain[i](submission, () => step(i + 1)));
  await step(0);
}

class Queue implements TaskQueue {
  readonly #core: QueueCore;
  readonly #options: SubmitOptions;
  /** Why this view's options were refused: its submits reject with it. */
  readonly #invalid: unknown;

  constructor(core: QueueCore, options: SubmitOptions, invalid?: unknown) {
    this.#core = core;
    this.#options = options;
    this.#invalid = invalid;
  }

  get registry(): TaskRegistry {
    return this.#core.registry;
  }

  get transport(): Transport {
    return this.#core.transport;
  }

  get codecs(): CodecSet {
    return this.#core.codecs;
  }

  get store(): ResultStore | undefined {
    return this.#core.store;
  }

  submit<F extends TaskFunction>(fn: F, ...args: Parameters<F>): Promise<TaskHandle<Awaited<ReturnType<F>>>> {
    if (this.#invalid !== undefined) return Promise.reject(this.#invalid);
    try {
      if (submitChannel.hasSubscribers)
        return this.#core.traceSubmit(fn, 1, this.#options, (ids, carrier) =>
          this.#submitOne(fn, args, ids[0], carrier),
        ) as Promise<TaskHandle<Awaited<ReturnType<F>>>>;
      return this.#submitOne(fn, args) as Promise<TaskHandle<Awaited<ReturnType<F>>>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #submitOne(fn: TaskFunction, args: readonly unknown[], id?: string, carrier?: TraceCarrier): Promise<TaskHandle> {
    const core = this.#core;
    const prepared = core.prepare(fn, args, this.#options, id, carrier);
    if (
      !(prepared instanceof Promise) &&
      this.#options.key === undefined &&
      core.store === undefined &&
      currentUnitOfWork() === undefined
    ) {
      // The common case, kept free of extra promises: straight to the transport (this is the hot path of a busy
      // producer, traced or not).
      return core.transport.publish(prepared.message).then(() => prepared.handle);
    }
    return this.#submit(prepared);
  }

  async #submit(preparing: PreparedTask | Promise<PreparedTask>): Promise<TaskHandle> {
    const prepared = await preparing;
    const key = this.#options.key;
    if (key !== undefined) {
      const existing = await this.#core.claim(prepared, key);
      if (existing) return existing;
    }
    await this.#core.dispatch([prepared], key === undefined ? NO_KEYS : [key]);
    return prepared.handle;
  }

  async submitMany<F extends TaskFunction>(
    fn: F,
    argsList: readonly Parameters<F>[],
  ): Promise<TaskHandle<Awaited<ReturnType<F>>>[]> {
    if (this.#invalid !== undefined) throw this.#invalid;
    if (!Array.isArray(argsList)) throw new InvalidOptionError('argsList', 'expected an array of argument arrays');
    if (this.#options.id !== undefined)
      throw new InvalidOptionError('id', 'a task id names one task; use submit(), not submitMany()');
    const core = this.#core;
    if (argsList.length > 0 && submitChannel.hasSubscribers)
      return core.traceSubmit(fn, argsList.length, this.#options, (ids, carrier) =>
        this.#submitMany(fn, argsList, ids, carrier),
      );
    return this.#submitMany(fn, argsList);
  }

  async #submitMany<F extends TaskFunction>(
    fn: F,
    argsList: readonly Parameters<F>[],
    ids?: readonly string[],
    carrier?: TraceCarrier,
  ): Promise<TaskHandle<Awaited<ReturnType<F>>>[]> {
    const prepared: PreparedTask[] = [];
    for (let i = 0; i < argsList.length; i++) {
      if (!Array.isArray(argsList[i])) throw new InvalidOptionError(`argsList[${i}]`, 'expected an array of arguments');
      const one = this.#core.prepare(fn, argsList[i], this.#options, ids?.[i], carrier);
      // Awaited only when a middleware or an async codec made it a promise: a thousand tasks, a thousand turns less.
      prepared.push(one instanceof Promise ? await one : one);
    }
    if (this.#options.key !== undefined)
      throw new InvalidOptionError('key', 'a deduplication key names one task; use submit(), not submitMany()');
    if (prepared.length > 0) await this.#core.dispatch(prepared, NO_KEYS);
    return prepared.map((p) => p.handle as TaskHandle<Awaited<ReturnType<F>>>);
  }

  with(options: SubmitOptions): TaskQueue {
    // Checked now, against the limits the transports enforce, but refused by the submit: `with(...).submit(...)`
    // is one call to its caller, whose `.catch()` must see the error (a throw here would escape it).
    try {
      validateTaskOptions(options, 'with');
    } catch (error) {
      return new Queue(this.#core, this.#options, error);
    }
    return new Queue(this.#core, { ...this.#options, ...options }, this.#invalid);
  }

  use(middleware: SubmitMiddleware): void {
    if (typeof middleware !== 'function')
      throw new InvalidOptionError('use', 'expected a function (submission, next) => Promise<void>');
    this.#core.middleware.push(middleware);
  }

  unitOfWork<T>(fn: () => Promise<T> | T, options?: UnitOfWorkOptions): Promise<T> {
    return inUnitOfWork(fn, options);
  }

  begin(options?: UnitOfWorkOptions): UnitOfWork {
    return new UnitOfWork(options);
  }

  bind(uow: UnitOfWork): BoundTaskQueue {
    return bindQueue(this, uow);
  }

  status(id: string): Promise<TaskStatus | null> {
    return this.#core.status(id);
  }

  handle(id: string): TaskHandle {
    return new TaskHandle(this.#core.readStatus, id, '', '', this.#core.cancel);
  }

  cancel(id: string): Promise<boolean> {
    return this.#core.cancel(id);
  }

  workers(options: { readonly wait?: number } = {}): Promise<WorkerHeartbeat[]> {
    return this.#core.workers(options.wait ?? 1_000);
  }

  pause(queue: string): Promise<void> {
    return this.#core.setPaused(queue, true);
  }

  resume(queue: string): Promise<void> {
    return this.#core.setPaused(queue, false);
  }

  async isPaused(queue: string): Promise<boolean> {
    validateTaskOptions({ queue }, 'queue');
    return this.#core.controlPlane().isPaused(queue);
  }

  watch(id: string, options?: WatchOptions): AsyncIterable<TaskStatus> {
    return watchStatus(this.#core.store, this.#core.readStoredStatus, id, options);
  }

  close(): Promise<void> {
    return this.#core.close();
  }
}

const NO_KEYS: readonly string[] = [];
/** The meta of a submit no middleware saw: shared, since nothing writes to it. */
const NO_META: Record<string, MetaValue> = Object.freeze({});
const NO_HEADERS: MessageHeaders = Object.freeze({});

/**
 * Creates a queue for submitting tasks. Opens nothing: the transport
 * connects on the first submit.
 */
export function createQueue(options: QueueOptions): TaskQueue {
  validateTaskOptions(options?.defaults ?? {}, 'defaults');
  if (options?.defaults?.id !== undefined)
    throw new InvalidOptionError('defaults.id', 'a task id names one task; give it with queue.with({ id })');
  return new Queue(new QueueCore(options), options.defaults ?? EMPTY);
}
