/**
 * A message on a prefix's control plane, heard by every worker of the prefix:
 * a logical queue was paused or resumed, a task was cancelled.
 */
export type ControlMessage =
  | { readonly kind: 'pause'; readonly queue: string }
  | { readonly kind: 'resume'; readonly queue: string }
  | { readonly kind: 'cancel'; readonly id: string }
  /** Asks every worker for a heartbeat now (`queue.workers()`). */
  | { readonly kind: 'ping' }
  /** The remote side of a rate limit said "slow down": every worker holds the limit's starts for `ms`. */
  | { readonly kind: 'rate-hold'; readonly limit: string; readonly ms: number };

/** What a worker announces about itself every heartbeat interval. */
export interface WorkerHeartbeat {
  /** Random id of the worker instance (the one its presence announcements carry). */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly queues: readonly string[];
  readonly concurrency: number;
  /** Tasks running in it now. */
  readonly running: number;
  /** taskq's version in that process. */
  readonly version: string;
  readonly startedAt: Date;
  /** Its heartbeat interval: it counts as gone when it stays silent for two. */
  readonly intervalMs: number;
}

/** Header values a transport carries next to a message body. */
export type MessageHeaders = Record<string, string | number | boolean | undefined>;

/** One message on its way to a queue. */
export interface OutgoingMessage {
  /** The task id; transports use it as the message id. */
  readonly id: string;
  /** Logical queue name (`default`, `mail`, ...); the transport maps it to its own naming. */
  readonly queue: string;
  readonly body: Buffer;
  readonly headers: MessageHeaders;
  /** 0-9, higher first where the transport supports it. */
  readonly priority?: number;
  /** Hold the message back this many milliseconds before it can be delivered. */
  readonly delayMs?: number;
}

/** One message handed to a consumer; it stays unacknowledged until `ack` or `requeue`. */
export interface Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly headers: MessageHeaders;
  /** True when the transport delivered this message before (a crash or requeue happened). */
  readonly redelivered: boolean;
  /** The message is done with; the transport forgets it. */
  ack(): void;
  /** Give the message back to its queue for another consumer (used on shutdown). */
  requeue(): void;
}

/** A message that could not be run, kept with the reason. */
export interface DeadLetter {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly headers: MessageHeaders;
}

/** One dead letter as `taskq dead list` shows it. */
export interface DeadLetterRecord {
  /** Task id (the message id); what `retry(id)` takes. */
  readonly id: string;
  /** Logical queue the message was taken from, where `retry` sends it back. */
  readonly queue: string | undefined;
  /** Registry id of the task, when the message said. */
  readonly task: string | undefined;
  /**
   * Why it was dead-lettered: a worker reason (`attempts-exhausted`, `bad-signature`, ...) or the broker's
   * (`delivery-limit`; `unroutable`: a delayed task whose queue was gone when it came due, with quorum queues).
   */
  readonly reason: string;
  /** Message of the last error. */
  readonly error: string | undefined;
  /** Stack of the last error, when it had one. */
  readonly errorStack: string | undefined;
  /** Attempts made (the attempt that failed last). */
  readonly attempts: number | undefined;
  /** When it was dead-lettered. */
  readonly deadAt: Date | undefined;
  /** When it was submitted, when the body says. */
  readonly submittedAt: Date | undefined;
  /** How many times it was sent back with `retry` before. */
  readonly retries: number;
  readonly headers: MessageHeaders;
  /** The body as stored: only a prefix when {@link truncated}. */
  readonly body: Buffer;
  /** Size of the message's body when it was dead-lettered. */
  readonly bodyBytes: number;
  /**
   * The body was over the worker's payload limit and only a prefix of it was
   * kept; `retry` leaves such a letter where it is.
   */
  readonly truncated: boolean;
}

/**
 * The dead-letter queue of a transport, for operators (`taskq dead ...`).
 * Listing does not remove anything; `retry` puts letters back on their queue
 * as a first attempt; `purge` is the only way a dead letter disappears.
 */
export interface DeadLetterStore {
  /** Number of dead letters. */
  count(): Promise<number>;
  /** The oldest `limit` dead letters (default 100), oldest first. */
  list(limit?: number): Promise<DeadLetterRecord[]>;
  /**
   * Sends the dead letter with this id (every one with `'all'`) back to its
   * queue as attempt 1 and removes it from the dead-letter queue once the
   * queue has it. Resolves with how many were sent back (0: no such id, or
   * none that can be sent back: no queue known, or a truncated body).
   */
  retry(target: string | 'all'): Promise<number>;
  /** Deletes every dead letter; resolves with how many there were. */
  purge(): Promise<number>;
}

export interface ConsumeOptions {
  /** Logical queue names to consume from. */
  readonly queues: readonly string[];
  /** Most unacknowledged deliveries at once (the worker's concurrency). */
  readonly prefetch: number;
  /**
   * Tell the other consumers of the prefix who this one is and hear theirs,
   * so that two applications sharing a prefix notice it. A transport that
   * cannot (memory: one process) ignores it.
   */
  readonly presence?: PresenceOptions;
  /**
   * Queues not to consume when the subscription starts or restarts (they are
   * paused); read at each (re)start, so the caller keeps it current.
   */
  readonly paused?: ReadonlySet<string>;
  /** Hears the prefix's control messages (needs {@link presence} on amqp, whose queue carries them). */
  readonly onControl?: (message: ControlMessage) => void;
  /** Queues consumed with another prefetch than {@link prefetch} (key partitions: `maxPerKey`). */
  readonly prefetchOf?: ReadonlyMap<string, number>;
}

/**
 * A token of a rate limit, taken by {@link RateLimitTokens.take}: the holder may start one task. It must be used or
 * given back.
 */
export interface RateToken {
  /** False when the token is no longer this member's (its connection was lost): take another. */
  readonly valid: boolean;
  /** A task starts now: the token comes back to the pool one window later. */
  use(): void;
  /** Not used: back to the pool at once. */
  giveBack(): void;
}

/**
 * One member's access to a rate limit shared by every worker of the prefix ({@link Transport.rateLimit}): `max`
 * tokens circulate, each used at most once per window, so there are at most `max` starts in any window.
 */
export interface RateLimitTokens {
  /** Resolves with a token when one is free (never while the limit is held); rejects with the signal's reason. */
  take(signal: AbortSignal): Promise<RateToken>;
  /** Holds the limit for `ms` on every member (the remote side said "slow down"). */
  hold(ms: number): Promise<void>;
  /** Applies a hold another member announced (amqp: heard on the control plane). */
  held(ms: number): void;
  /** Leaves the limit: waiting takes reject, tokens in hand go back. */
  close(): Promise<void>;
}

/** What a worker tells the other workers of its prefix about itself. */
export interface PresenceCard {
  /** Random id of this worker instance. */
  readonly instance: string;
  /** Logical queues it consumes. */
  readonly queues: readonly string[];
  /** Hash of its registry's sorted task names: equal for workers of one task set. */
  readonly fingerprint: string;
  /** Its task names; left out when there are too many to send. */
  readonly tasks?: readonly string[];
  /** Where it runs, for the operator who has to find it. */
  readonly host: string;
  readonly pid: number;
}

/** One announcement heard: a worker started (`hello`), answered a hello (`here`) or stopped (`bye`). */
export interface PresenceNews {
  readonly kind: 'hello' | 'here' | 'bye';
  readonly card: PresenceCard;
}

/** See {@link ConsumeOptions.presence}. */
export interface PresenceOptions {
  readonly card: PresenceCard;
  readonly onNews: (news: PresenceNews) => void;
  /**
   * Called after the queues are declared and the hello is out, before any
   * message is consumed, with the number of consumers each queue already
   * has; a rejection aborts the start. `restart` is true after a reconnect.
   */
  readonly beforeConsume: (consumers: ReadonlyMap<string, number>, restart: boolean) => Promise<void>;
}

/** A running consumer. */
export interface Subscription {
  /**
   * Stops new deliveries; deliveries already handed out can still be acked. Key partitions stay owned (a single active
   * consumer) without handing out more, so that no other worker starts a key's next task while one still runs here;
   * {@link close} lets them go.
   */
  cancel(): Promise<void>;
  /** After `cancel` and once every delivery is settled: releases what the subscription still holds (its channel). */
  close?(): Promise<void>;
  /** Stops consuming one of its queues; deliveries already handed out stay. */
  pause?(queue: string): Promise<void>;
  /** Consumes the queue again after {@link pause}. */
  resume?(queue: string): Promise<void>;
}

/**
 * The control plane of a transport: messages every worker of the prefix
 * hears, and the paused state of logical queues, which outlives the workers.
 */
export interface ControlPlane {
  /** Sends a control message to every worker of the prefix. */
  publish(message: ControlMessage): Promise<void>;
  /** Records the queue as paused (or not) and tells the workers. */
  setPaused(queue: string, paused: boolean): Promise<void>;
  /** Whether the queue is paused now. */
  isPaused(queue: string): Promise<boolean>;
  /** Messages ready in a logical queue and its consumers now (paused workers do not count); zeros when undeclared. */
  queueInfo(queue: string): Promise<{ readonly depth: number; readonly consumers: number }>;
  /** Sends a worker's heartbeat (heard by watchers, not by the other workers). */
  heartbeat(beat: WorkerHeartbeat): Promise<void>;
  /**
   * Hears every heartbeat of the prefix until the returned function is called;
   * `onEnd` is called if it stops hearing them before (its connection was lost).
   */
  watchHeartbeats(onBeat: (beat: WorkerHeartbeat) => void, onEnd?: () => void): Promise<() => Promise<void>>;
}

/**
 * One member's place in a leader election of a transport ({@link Transport.leadership}): among the members of a
 * group on one prefix at most one is the leader at a time, as far as the broker knows; when the leader's connection
 * goes, another member takes over. The group also keeps a small shared state, the last value written, for the next
 * leader to read.
 */
export interface Leadership {
  /** Whether this member holds the leadership now. */
  readonly leader: boolean;
  /** The group's state as last written (by any leader), or undefined when none was written. */
  readState(): Promise<Buffer | undefined>;
  /** Replaces the group's state; resolves once it is stored (for amqp: confirmed). Meant for the leader. */
  writeState(state: Buffer): Promise<void>;
  /** Leaves the election; a leader hands the leadership to the next member. */
  leave(): Promise<void>;
}

/**
 * What moves messages between queues and workers. `amqp()` (RabbitMQ) and
 * `memory()` (in-process) implement it. Creating a transport opens nothing;
 * the first publish or consume does.
 */
export interface Transport {
  /** Short name for logs: `amqp`, `memory`. */
  readonly kind: string;
  /** Whether a message survives a process or broker restart. */
  readonly durable: boolean;
  /**
   * Where this transport's queues live, for logs and checks: the amqp
   * transport's prefix (one per application on a shared broker); the memory
   * transport's is `(in-process)`.
   */
  readonly prefix?: string;
  /** The transport's own name for a logical queue (RabbitMQ: the queue it routes to), for traces and metrics. */
  destination?(queue: string): string;
  /** Resolves once the message is safely stored (for amqp: confirmed by the broker). */
  publish(message: OutgoingMessage): Promise<void>;
  /** Like `publish` for many messages, pipelined; resolves when all are confirmed. */
  publishMany(messages: readonly OutgoingMessage[]): Promise<void>;
  consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription>;
  /** Stores a message that cannot or will not run in the dead-letter queue (resolves once it is stored). */
  deadLetter(message: DeadLetter): Promise<void>;
  /** The dead-letter queue: list, retry, purge. */
  readonly dead: DeadLetterStore;
  /** Pause, resume and cancel; absent on a transport that has no control plane. */
  readonly control?: ControlPlane;
  /**
   * Joins the leader election of `group` (letters, digits, `_`, `-`; the scheduler's is `schedules`); `onChange` hears
   * this member become the leader (true) and stop being it (false). Resolves once the member has joined. Absent on a
   * transport that cannot elect.
   */
  leadership?(group: string, onChange: (leader: boolean) => void): Promise<Leadership>;
  /**
   * Joins the rate limit `name` (letters, digits and `_ $ . - :`): at most `max` tokens used per `perMs` across every
   * member of the prefix. Absent on a transport that cannot share a limit.
   */
  rateLimit?(name: string, limit: { readonly max: number; readonly perMs: number }): Promise<RateLimitTokens>;
  /**
   * Registers a user (a queue or a worker). The transport closes itself when
   * the last user releases it, so a queue and a worker in one process can share it.
   */
  retain(): () => Promise<void>;
  /** Closes every connection now. */
  close(): Promise<void>;
}
