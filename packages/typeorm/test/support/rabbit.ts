import { randomUUID } from 'node:crypto';
import { amqp, type AmqpTransport, type AmqpTransportOptions, silentLogger } from '@taskq/core';
import { type Channel, type ChannelModel, connect } from 'amqplib';

/** The shared test broker; tests never touch queues they did not create. */
export const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const DELAY_LEVELS = 28;

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
    const transport = amqp({ url: RABBIT_URL, prefix: this.prefix, logger: silentLogger, connectTimeout: 10_000, publishTimeout: 15_000, ...overrides });
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
  async depth(queue: string): Promise<number> {
    return withChannel(async (channel) => {
      try {
        return (await channel.checkQueue(this.physical(queue))).messageCount;
      } catch (error) {
        if (String(error).includes('404')) return 0;
        throw error;
      }
    });
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
    await withChannel(async (channel) => {
      for (const name of this.#queues) await channel.deleteQueue(this.physical(name));
      await channel.deleteQueue(this.deadQueue);
      for (let level = 0; level < DELAY_LEVELS; level++) {
        await channel.deleteQueue(`${this.prefix}.delay.${level}`);
        await channel.deleteExchange(`${this.prefix}.delay.${level}`);
      }
      await channel.deleteExchange(`${this.prefix}.delivery`);
    });
  }
}

async function withChannel<T>(fn: (channel: Channel) => Promise<T>): Promise<T> {
  const connection: ChannelModel = await connect(RABBIT_URL);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}
