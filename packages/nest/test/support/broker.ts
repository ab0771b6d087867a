import { randomUUID } from 'node:crypto';
import { amqp, type AmqpTransport, silentLogger } from '@taskq/core';
// amqplib comes with @taskq/core; tests use it only to remove what they declared.
import { connect } from 'amqplib';

/** The shared test broker; tests never stop it or touch queues they did not create. */
export const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const DELAY_LEVELS = 28;

/**
 * Everything one test declares on the shared broker lives under its own
 * prefix; `cleanup()` deletes those queues and exchanges. A broker that is
 * missing fails the test (connectTimeout), it never skips it.
 */
export class TestBroker {
  readonly prefix = `tqnest-${randomUUID().slice(0, 8)}`;
  readonly #queues = new Set<string>(['default']);

  /** An amqp transport under this prefix. */
  transport(): AmqpTransport {
    return amqp({ url: RABBIT_URL, prefix: this.prefix, logger: silentLogger, connectTimeout: 10_000, publishTimeout: 15_000 });
  }

  /** Notes a logical queue for cleanup and returns its name. */
  queue(name: string): string {
    this.#queues.add(name);
    return name;
  }

  /** Messages ready in a logical queue (0 when it was never declared). */
  async depth(logical: string): Promise<number> {
    const connection = await connect(RABBIT_URL);
    connection.on('error', () => {});
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      try {
        const { messageCount } = await channel.checkQueue(`${this.prefix}.q.${logical}`);
        await channel.close();
        return messageCount;
      } catch (error) {
        if (String(error).includes('404')) return 0;
        throw error;
      }
    } finally {
      await connection.close();
    }
  }

  async cleanup(): Promise<void> {
    const connection = await connect(RABBIT_URL);
    try {
      const channel = await connection.createChannel();
      for (const name of this.#queues) await channel.deleteQueue(`${this.prefix}.q.${name}`);
      await channel.deleteQueue(`${this.prefix}.dead`);
      for (let level = 0; level < DELAY_LEVELS; level++) {
        await channel.deleteQueue(`${this.prefix}.delay.${level}`);
        await channel.deleteExchange(`${this.prefix}.delay.${level}`);
      }
      await channel.deleteExchange(`${this.prefix}.delivery`);
      await channel.close();
    } finally {
      await connection.close();
    }
  }
}
