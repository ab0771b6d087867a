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

export interface ConsumeOptions {
  /** Logical queue names to consume from. */
  readonly queues: readonly string[];
  /** Most unacknowledged deliveries at once (the worker's concurrency). */
  readonly prefetch: number;
}

/** A running consumer. */
export interface Subscription {
  /** Stops new deliveries; deliveries already handed out can still be acked. */
  cancel(): Promise<void>;
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
  /** Resolves once the message is safely stored (for amqp: confirmed by the broker). */
  publish(message: OutgoingMessage): Promise<void>;
  /** Like `publish` for many messages, pipelined; resolves when all are confirmed. */
  publishMany(messages: readonly OutgoingMessage[]): Promise<void>;
  consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription>;
  /** Stores a message that cannot or will not run in the dead-letter queue. */
  deadLetter(message: DeadLetter): Promise<void>;
  /**
   * Registers a user (a queue or a worker). The transport closes itself when
   * the last user releases it, so a queue and a worker in one process can share it.
   */
  retain(): () => Promise<void>;
  /** Closes every connection now. */
  close(): Promise<void>;
}
