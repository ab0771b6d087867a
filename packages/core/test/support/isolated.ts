import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { type AmqpTransport, type AmqpTransportOptions, memory, type Transport } from '../../src/index.js';
import { RABBIT_URL, testAmqp } from './rabbit.js';

/** How many delay levels the AMQP topology declares (see src/transports/amqp/topology.ts). */
const DELAY_LEVELS = 28;

/**
 * Everything one test declares on the shared broker lives under its own
 * prefix: work queues, the dead-letter queue, the delay levels. Tests that
 * read or purge the dead-letter queue cannot see each other's letters, and
 * `cleanup()` removes every queue and exchange the prefix created.
 */
export class IsolatedBroker {
  readonly prefix = `tq-${randomUUID().slice(0, 8)}`;
  readonly #queues = new Set<string>();
  readonly #transports: Transport[] = [];

  /** A fresh logical queue name, deleted by `cleanup()`. */
  queue(label: string): string {
    const name = `${label}-${randomUUID().slice(0, 6)}`;
    this.#queues.add(name);
    return name;
  }

  /** An amqp transport under this prefix; closed by `cleanup()`. */
  amqp(overrides: Partial<AmqpTransportOptions> = {}): AmqpTransport {
    const transport = testAmqp({ prefix: this.prefix, ...overrides });
    this.#transports.push(transport);
    return transport;
  }

  /** A memory transport, closed by `cleanup()` like the amqp ones. */
  memory(): Transport {
    const transport = memory();
    this.#transports.push(transport);
    return transport;
  }

  /** Physical name of a logical queue under this prefix. */
  physical(queue: string): string {
    return `${this.prefix}.q.${queue}`;
  }

  async cleanup(url = RABBIT_URL): Promise<void> {
    for (const transport of this.#transports.splice(0)) await transport.close();
    const connection = await connect(url);
    try {
      const channel = await connection.createChannel();
      for (const name of this.#queues) await channel.deleteQueue(this.physical(name));
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
    this.#queues.clear();
  }
}
