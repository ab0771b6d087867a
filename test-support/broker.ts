// The one broker helper of every package's tests. It makes no taskq value import of its own: each package binds it
// to the core it tests (core's tests to src/, the adapters' to the built @taskq/core) with the `amqp` factory.
import { randomUUID } from 'node:crypto';
import { deletePrefix, queueDepth, RABBIT_URL, topologyOf, withChannel } from './rabbit.js';

/** Anything the broker closes at cleanup (a transport). */
export interface Closable {
  close(): Promise<void>;
}

/** How a package's tests make an amqp transport (bound to the core they test); `prefix` is the broker's. */
export type AmqpFactory<A extends Closable, O extends { prefix?: string }> = (options: O & { prefix: string }) => A;

/** A message taken from the dead-letter queue. */
export interface DeadLetterMessage {
  readonly id: string;
  readonly headers: Record<string, unknown>;
}

/**
 * Everything a test declares on the shared broker lives under the broker's
 * own prefix: work queues, the dead-letter queue, the delay levels, the
 * delivery exchange. Tests that read or purge the dead-letter queue cannot
 * see each other's letters. `cleanup()` closes the transports it made,
 * deletes every queue and exchange of the prefix and moves the broker to a
 * fresh prefix, so one broker can serve a whole describe block test by test.
 */
export class TestBroker<A extends Closable, O extends { prefix?: string } = { prefix?: string }> {
  readonly #amqp: AmqpFactory<A, O>;
  readonly #label: string;
  #prefix: string;
  // Queues with the default name are declared by tests that set none; deleting a missing queue is harmless.
  readonly #queues = new Set<string>(['default']);
  readonly #closables: Closable[] = [];
  readonly #rateLimits = new Set<string>();

  /** `label` starts the prefix, to tell a package's leftovers apart. */
  constructor(amqp: AmqpFactory<A, O>, label = 'tq') {
    this.#amqp = amqp;
    this.#label = label;
    this.#prefix = this.#newPrefix();
  }

  /** The prefix of everything this broker's transports declare, until the next `cleanup()`. */
  get prefix(): string {
    return this.#prefix;
  }

  /** A fresh logical queue name, deleted by `cleanup()`. */
  queue(label: string): string {
    return this.adopt(`${label}-${randomUUID().slice(0, 6)}`);
  }

  /** Notes a logical queue with a fixed name (one a module or child process picks) for `cleanup()`. */
  adopt(name: string): string {
    this.#queues.add(name);
    return name;
  }

  /** Notes a rate limit (`task.<id>`, `queue.<name>`) whose token queue and election `cleanup()` deletes. */
  adoptRateLimit(name: string): string {
    this.#rateLimits.add(name);
    return name;
  }

  /** Notes the key partitions of a logical queue (`<queue>~p0` ...) for `cleanup()`. */
  adoptPartitions(queue: string, partitions: number): void {
    for (let n = 0; n < partitions; n++) this.#queues.add(`${queue}~p${n}`);
  }

  /** An amqp transport under this prefix; closed by `cleanup()` (closing it earlier is fine). */
  amqp(overrides?: O): A {
    return this.track(this.#amqp({ ...overrides, prefix: this.prefix } as O & { prefix: string }));
  }

  /** Closes `transport` at `cleanup()`, like the amqp ones (e.g. a memory transport). */
  track<T extends Closable>(transport: T): T {
    this.#closables.push(transport);
    return transport;
  }

  /** Physical name of a logical queue under this prefix. */
  physical(queue: string): string {
    return topologyOf(this.prefix).physical(queue);
  }

  /** Physical name of this prefix's dead-letter queue. */
  get deadQueue(): string {
    return topologyOf(this.prefix).deadQueue;
  }

  /** Messages ready in a logical queue (0 when never declared). */
  depth(queue: string, url = RABBIT_URL): Promise<number> {
    return queueDepth(queue, this.prefix, url);
  }

  /** Takes every message from the dead-letter queue: message id and headers. */
  drainDead(url = RABBIT_URL): Promise<DeadLetterMessage[]> {
    return withChannel(async (channel) => {
      const letters: DeadLetterMessage[] = [];
      try {
        await channel.checkQueue(this.deadQueue);
      } catch {
        return letters;
      }
      for (;;) {
        const message = await channel.get(this.deadQueue, { noAck: true });
        if (!message) return letters;
        letters.push({
          id: String(message.properties.messageId),
          headers: (message.properties.headers ?? {}) as Record<string, unknown>,
        });
      }
    }, url);
  }

  /** Consumes every message of a logical queue (until it stays empty for `idleMs`); resolves with their message ids. */
  drainQueue(queue: string, idleMs = 500, url = RABBIT_URL): Promise<string[]> {
    return withChannel(async (channel) => {
      const ids: string[] = [];
      let last = Date.now();
      await channel.prefetch(1_000);
      const { consumerTag } = await channel.consume(
        this.physical(queue),
        (message) => {
          if (!message) return;
          ids.push(String(message.properties.messageId));
          last = Date.now();
        },
        { noAck: true },
      );
      while (Date.now() - last < idleMs) await new Promise((resolve) => setTimeout(resolve, 50));
      await channel.cancel(consumerTag);
      return ids;
    }, url);
  }

  /** Closes the transports, deletes what the prefix declared on the broker at `url`, then takes a fresh prefix. */
  async cleanup(url = RABBIT_URL): Promise<void> {
    for (const closable of this.#closables.splice(0)) await closable.close();
    await deletePrefix(this.prefix, this.#queues, url, this.#rateLimits);
    this.#queues.clear();
    this.#rateLimits.clear();
    this.#queues.add('default');
    this.#prefix = this.#newPrefix();
  }

  #newPrefix(): string {
    return `${this.#label}-${randomUUID().slice(0, 8)}`;
  }
}
