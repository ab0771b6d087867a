import { ClosedError, InvalidOptionError, UnpublishableMessageError } from '../../errors.js';
import { headerTableBytes, MAX_HEADER_TABLE_BYTES } from '../../internal/bounded-headers.js';
import { Deque } from '../../internal/deque.js';
import type {
  ConsumeOptions,
  ControlMessage,
  ControlPlane,
  DeadLetter,
  DeadLetterRecord,
  DeadLetterStore,
  Delivery,
  Leadership,
  MessageHeaders,
  RateLimitTokens,
  OutgoingMessage,
  Subscription,
  Transport,
  WorkerHeartbeat,
} from '../../transport.js';
import { baseQueue, checkMessageLimits, isPartition } from '../../task-options.js';
import { MemoryRateLimits } from './rate-limit.js';
import { canRetry, deadLetterId, retryHeaders, toDeadLetterRecord } from '../dead-letters.js';
import { Users } from '../../internal/users.js';
import { MemoryElections } from './leadership.js';

interface StoredMessage {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly headers: MessageHeaders;
  readonly priority: number;
  redelivered: boolean;
}

interface Consumer {
  readonly queues: readonly string[];
  readonly prefetch: number;
  readonly prefetchOf: ReadonlyMap<string, number> | undefined;
  readonly onDelivery: (delivery: Delivery) => void;
  readonly onControl: ((message: ControlMessage) => void) | undefined;
  /** Queues this consumer does not take from (paused); a queue's key partitions pause with it. */
  readonly paused: Set<string>;
  /** Unacknowledged deliveries by queue: prefetch holds per queue, as RabbitMQ's per-consumer prefetch does. */
  readonly unacked: Map<string, number>;
  active: boolean;
  /** Cancelled: takes nothing more, but still owns the key partitions it was the active consumer of, until closed. */
  cancelled: boolean;
}

/** Options of {@link memory}. */
export interface MemoryTransportOptions {
  /**
   * Largest message accepted, like a broker's limit.
   * @defaultValue `134_217_728` (128 MiB, RabbitMQ's default)
   */
  readonly maxMessageBytes?: number;
}

/**
 * The in-process transport: the embedded default for the quick start, the
 * demo and unit tests. Same delivery semantics as `amqp()` (prefetch, ack,
 * requeue on shutdown, delays, dead letters) but NOT durable: everything is
 * lost when the process exits.
 */
export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly durable = false;
  /** Queues live in this process only: no broker namespace to share. */
  readonly prefix = '(in-process)';
  readonly #queues = new Map<string, Deque<StoredMessage>>();
  readonly #consumers: Consumer[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #dead: DeadLetter[] = [];
  readonly #maxMessageBytes: number;
  readonly #users = new Users(() => this.close());
  #closed = false;
  #dispatchScheduled = false;
  #roundRobin = 0;

  constructor(options: MemoryTransportOptions = {}) {
    const max = options.maxMessageBytes ?? 134_217_728;
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidOptionError('maxMessageBytes', `expected a positive integer, got ${max}`);
    this.#maxMessageBytes = max;
  }

  async publish(message: OutgoingMessage): Promise<void> {
    this.#accept(message);
  }

  async publishMany(messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.#accept(message);
  }

  async consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('the memory transport');
    const consumer: Consumer = {
      queues: [...options.queues],
      prefetch: options.prefetch,
      prefetchOf: options.prefetchOf,
      onDelivery,
      onControl: options.onControl,
      paused: new Set(options.paused),
      unacked: new Map(),
      active: true,
      cancelled: false,
    };
    this.#consumers.push(consumer);
    this.#scheduleDispatch();
    const remove = (): void => {
      consumer.active = false;
      const i = this.#consumers.indexOf(consumer);
      if (i >= 0) this.#consumers.splice(i, 1);
      this.#scheduleDispatch();
    };
    return {
      cancel: async () => {
        // Owning a key partition, it keeps it (taking nothing) until close(), as on amqp.
        if (consumer.queues.some(isPartition)) consumer.cancelled = true;
        else remove();
      },
      close: async () => remove(),
      pause: async (queue) => {
        consumer.paused.add(queue);
      },
      resume: async (queue) => {
        consumer.paused.delete(queue);
        this.#scheduleDispatch();
      },
    };
  }

  readonly #pausedQueues = new Set<string>();
  readonly #elections = new MemoryElections();
  readonly #rateLimits = new MemoryRateLimits();

  /** A rate limit shared by the workers of this process (see MemoryRateLimits). */
  async rateLimit(name: string, limit: { readonly max: number; readonly perMs: number }): Promise<RateLimitTokens> {
    if (this.#closed) throw new ClosedError('the memory transport');
    return this.#rateLimits.join(name, limit);
  }

  /** Leader elections within this process: the first member to join leads until it leaves. */
  leadership(group: string, onChange: (leader: boolean) => void): Promise<Leadership> {
    return this.#elections.join(group, onChange);
  }

  /** Pause state and control messages, within this process. */
  readonly control: ControlPlane = {
    publish: async (message) => {
      if (this.#closed) throw new ClosedError('the memory transport');
      // Later, like a broker's broadcast: never inside the caller's stack.
      setImmediate(() => {
        for (const consumer of this.#consumers)
          if (consumer.active && !consumer.cancelled) consumer.onControl?.(message);
      });
    },
    setPaused: async (queue, paused) => {
      if (paused) this.#pausedQueues.add(queue);
      else this.#pausedQueues.delete(queue);
      await this.control.publish(paused ? { kind: 'pause', queue } : { kind: 'resume', queue });
    },
    isPaused: async (queue) => this.#pausedQueues.has(queue),
    queueInfo: async (queue) => ({
      depth: this.depth(queue),
      consumers: this.#consumers.filter(
        (c) => c.active && !c.cancelled && c.queues.includes(queue) && !c.paused.has(queue),
      ).length,
    }),
    heartbeat: async (beat) => {
      setImmediate(() => {
        for (const watcher of this.#watchers) watcher(beat);
      });
    },
    watchHeartbeats: async (onBeat) => {
      this.#watchers.add(onBeat);
      return async () => {
        this.#watchers.delete(onBeat);
      };
    },
  };

  readonly #watchers = new Set<(beat: WorkerHeartbeat) => void>();

  async deadLetter(message: DeadLetter): Promise<void> {
    if (this.#closed) throw new ClosedError('the memory transport');
    checkHeaders(message);
    this.#dead.push({ ...message, id: deadLetterId(message.id), headers: { ...message.headers } });
  }

  /** The dead-letter queue, with the same operations as the amqp transport's. */
  readonly dead: DeadLetterStore = {
    count: async () => this.#dead.length,
    list: async (limit = 100) => this.#dead.slice(0, checkLimit(limit)).map((letter) => this.#record(letter)),
    retry: async (target) => {
      if (this.#closed) throw new ClosedError('the memory transport');
      let sent = 0;
      for (let i = 0; i < this.#dead.length; ) {
        const letter = this.#dead[i];
        const record = this.#record(letter);
        if ((target !== 'all' && record.id !== target) || !canRetry(record)) {
          i++;
          continue;
        }
        this.#accept({ id: record.id, queue: record.queue, body: record.body, headers: retryHeaders(record) });
        this.#dead.splice(i, 1);
        sent++;
        if (target !== 'all') break;
      }
      return sent;
    },
    purge: async () => this.#dead.splice(0).length,
  };

  #record(letter: DeadLetter): DeadLetterRecord {
    return toDeadLetterRecord(letter.id, letter.body, letter.headers, {
      reason: 'unknown',
      queue: letter.queue,
      time: undefined,
    });
  }

  /** Dead letters stored so far (oldest first). */
  deadLetters(): readonly DeadLetter[] {
    return [...this.#dead];
  }

  /** Number of messages waiting (not yet delivered) in a logical queue. */
  depth(queue: string): number {
    return this.#queues.get(queue)?.length ?? 0;
  }

  retain(): () => Promise<void> {
    return this.#users.retain();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#elections.close();
    this.#rateLimits.close();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const consumer of this.#consumers) consumer.active = false;
    this.#consumers.length = 0;
  }

  #accept(message: OutgoingMessage): void {
    if (this.#closed) throw new ClosedError('the memory transport');
    if (message.body.length > this.#maxMessageBytes) {
      throw new InvalidOptionError(
        'maxMessageBytes',
        `message of ${message.body.length} bytes is over the transport limit of ${this.#maxMessageBytes}`,
      );
    }
    // The same limits as amqp() (and as submit), so code tested on memory() does not fail later on RabbitMQ.
    checkMessageLimits(message);
    checkHeaders(message);
    const stored: StoredMessage = {
      id: deadLetterId(message.id),
      queue: message.queue,
      body: message.body,
      headers: { ...message.headers },
      priority: message.priority ?? 0,
      redelivered: false,
    };
    if (message.delayMs && message.delayMs > 0) {
      this.#later(stored, Date.now() + message.delayMs);
      return;
    }
    this.#enqueue(stored, false);
  }

  /**
   * Enqueues at `dueAt`. Node clamps a timeout over 2^31-1 ms (24.8 days) to
   * 1 ms, so long delays wait in steps. A pending delay keeps the process
   * alive, like any timer; close() cancels it.
   */
  #later(message: StoredMessage, dueAt: number): void {
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        if (this.#closed) return;
        if (Date.now() < dueAt) this.#later(message, dueAt);
        else this.#enqueue(message, false);
      },
      Math.min(MAX_TIMER_MS, Math.max(0, dueAt - Date.now())),
    );
    this.#timers.add(timer);
  }

  #enqueue(message: StoredMessage, atHead: boolean): void {
    let queue = this.#queues.get(message.queue);
    if (!queue) this.#queues.set(message.queue, (queue = new Deque()));
    if (atHead) queue.unshift(message);
    else if (message.priority > 0) queue.insertByRank(message, (m) => m.priority);
    else queue.push(message);
    this.#scheduleDispatch();
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    // Deliveries happen on a later tick, never inside publish(): a consumer must not run inside the submitter's call
    // stack.
    setImmediate(() => {
      this.#dispatchScheduled = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    const consumers = this.#consumers;
    let delivered = true;
    while (delivered) {
      delivered = false;
      for (let n = 0; n < consumers.length; n++) {
        const consumer = consumers[(this.#roundRobin + n) % consumers.length];
        const message = this.#next(consumer);
        if (!message) continue;
        this.#roundRobin = (this.#roundRobin + n + 1) % consumers.length;
        this.#deliver(consumer, message);
        delivered = true;
        break;
      }
    }
  }

  #next(consumer: Consumer): StoredMessage | undefined {
    if (consumer.cancelled) return undefined;
    for (const name of consumer.queues) {
      if (this.#isPaused(consumer, name)) continue;
      if ((consumer.unacked.get(name) ?? 0) >= (consumer.prefetchOf?.get(name) ?? consumer.prefetch)) continue;
      // A key partition has one active consumer, as on RabbitMQ: the first that consumes it.
      if (isPartition(name) && this.#activeOf(name) !== consumer) continue;
      const message = this.#queues.get(name)?.shift();
      if (message) return message;
    }
    return undefined;
  }

  #isPaused(consumer: Consumer, queue: string): boolean {
    return consumer.paused.has(queue) || consumer.paused.has(baseQueue(queue));
  }

  #activeOf(queue: string): Consumer | undefined {
    return this.#consumers.find((c) => c.active && c.queues.includes(queue) && !this.#isPaused(c, queue));
  }

  #deliver(consumer: Consumer, message: StoredMessage): void {
    const queue = message.queue;
    consumer.unacked.set(queue, (consumer.unacked.get(queue) ?? 0) + 1);
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      consumer.unacked.set(queue, (consumer.unacked.get(queue) as number) - 1);
      this.#scheduleDispatch();
      return true;
    };
    const delivery: Delivery = {
      id: message.id,
      queue: message.queue,
      body: message.body,
      headers: message.headers,
      redelivered: message.redelivered,
      ack: () => {
        settle();
      },
      requeue: () => {
        if (!settle() || this.#closed) return;
        message.redelivered = true;
        this.#enqueue(message, true);
      },
    };
    consumer.onDelivery(delivery);
  }
}

/** Longest timeout Node honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The header bound of amqp(), so a message refused on RabbitMQ is refused here too. */
function checkHeaders(message: { readonly headers: MessageHeaders }): void {
  const bytes = headerTableBytes(message.headers);
  if (bytes > MAX_HEADER_TABLE_BYTES)
    throw new UnpublishableMessageError(
      `the message's headers take about ${bytes} bytes encoded, over the limit of ${MAX_HEADER_TABLE_BYTES}`,
    );
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1)
    throw new InvalidOptionError('limit', `expected a positive integer, got ${limit}`);
  return limit;
}

/** Creates the in-process, non-durable transport. */
export function memory(options?: MemoryTransportOptions): MemoryTransport {
  return new MemoryTransport(options);
}
