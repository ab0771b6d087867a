import { randomUUID } from 'node:crypto';
import type { AmqpTransport, AmqpTransportOptions } from '@taskq/core';
import { deletePrefix, queueDepth, withChannel } from '../../../../test-support/rabbit.js';
import { testAmqp } from '../../../../test-support/taskq-amqp.js';

export { RABBIT_URL } from '../../../../test-support/rabbit.js';

/**
 * Everything a test file declares on the shared broker lives under its own
 * prefix (work queues, dead-letter queue, delay levels); `cleanup()` deletes it.
 */
export class TestBroker {
  readonly prefix = `tqorm-${randomUUID().slice(0, 8)}`;
  readonly #queues = new Set<string>();
  readonly #transports: AmqpTransport[] = [];

  /** A fresh logical queue name, deleted by `cleanup()`. */
  queue(label: string): string {
    const name = `${label}-${randomUUID().slice(0, 6)}`;
    this.#queues.add(name);
    return name;
  }

  amqp(overrides: Partial<AmqpTransportOptions> = {}): AmqpTransport {
    const transport = testAmqp({ prefix: this.prefix, ...overrides });
    this.#transports.push(transport);
    return transport;
  }

  physical(queue: string): string {
    return `${this.prefix}.q.${queue}`;
  }

  get deadQueue(): string {
    return `${this.prefix}.dead`;
  }

  /** Messages ready in a logical queue (0 when never declared). */
  depth(queue: string): Promise<number> {
    return queueDepth(queue, this.prefix);
  }

  /** Takes every message from the dead-letter queue: message id and headers. */
  async drainDead(): Promise<Array<{ id: string; headers: Record<string, unknown> }>> {
    return withChannel(async (channel) => {
      const letters: Array<{ id: string; headers: Record<string, unknown> }> = [];
      try {
        await channel.checkQueue(this.deadQueue);
      } catch {
        return letters;
      }
      for (;;) {
        const message = await channel.get(this.deadQueue, { noAck: true });
        if (!message) return letters;
        letters.push({ id: String(message.properties.messageId), headers: (message.properties.headers ?? {}) as Record<string, unknown> });
      }
    });
  }

  /** Consumes every message of a logical queue (until it stays empty for `idleMs`); resolves with their message ids. */
  async drainQueue(queue: string, idleMs = 500): Promise<string[]> {
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
    });
  }

  async cleanup(): Promise<void> {
    for (const transport of this.#transports.splice(0)) await transport.close();
    await deletePrefix(this.prefix, this.#queues);
  }
}

