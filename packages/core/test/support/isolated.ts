import { randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';
import { type AmqpTransport, type AmqpTransportOptions, memory, type Transport } from '../../src/index.js';
import { deletePrefix, RABBIT_URL } from '../../../../test-support/rabbit.js';
import { testAmqp } from './rabbit.js';

/**
 * Everything one test declares on the shared broker lives under its own
 * prefix: work queues, the dead-letter queue, the delay levels. Tests that
 * read or purge the dead-letter queue cannot see each other's letters, and
 * `cleanup()` removes every queue and exchange the prefix created, and
 * moves the broker to a fresh prefix for the next test.
 */
export class IsolatedBroker {
  #prefix = newPrefix();
  readonly #queues = new Set<string>();
  readonly #transports: Transport[] = [];

  get prefix(): string {
    return this.#prefix;
  }

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
    await deletePrefix(this.prefix, this.#queues, url);
    this.#queues.clear();
    this.#prefix = newPrefix();
  }
}

function newPrefix(): string {
  return `tq-${randomUUID().slice(0, 8)}`;
}

/**
 * The broker of a describe block and the stop steps its tests register: after
 * each test the steps run in reverse, then the broker is cleaned up (and so
 * starts the next test under a fresh prefix).
 */
export function isolatedPerTest(): { readonly broker: IsolatedBroker; readonly stops: Array<() => Promise<void>> } {
  const broker = new IsolatedBroker();
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await broker.cleanup();
  });
  return { broker, stops };
}

/** Where a test submits and where its worker consumes: one transport for memory, two connection pairs for amqp. */
export interface TransportPair {
  /** Transport for the submitting side. */
  submitter: Transport;
  /** Transport for the worker (the same one for memory, a second connection pair for amqp). */
  consumer: Transport;
  /** A fresh logical queue, named after `label`. */
  queueName: string;
}

/** The memory and the amqp {@link TransportPair} on a broker, for tests that run on both: `Object.entries(transportPairs('retry'))`. */
export function transportPairs(label: string): Record<'memory' | 'amqp', (broker: IsolatedBroker) => TransportPair> {
  return {
    memory: (broker) => {
      const shared = broker.memory();
      return { submitter: shared, consumer: shared, queueName: broker.queue(label) };
    },
    amqp: (broker) => ({ submitter: broker.amqp(), consumer: broker.amqp(), queueName: broker.queue(label) }),
  };
}
