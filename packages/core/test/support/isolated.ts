import { afterEach } from 'vitest';
import { memory, type Transport } from '../../src/index.js';
import { type AmqpTestBroker, testBroker } from './rabbit.js';

/**
 * The broker of a describe block and the stop steps its tests register: after
 * each test the steps run in reverse, then the broker is cleaned up (and so
 * starts the next test under a fresh prefix).
 */
export function isolatedPerTest(): { readonly broker: AmqpTestBroker; readonly stops: Array<() => Promise<void>> } {
  const broker = testBroker();
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

/**
 * The memory and the amqp {@link TransportPair} on a broker, for tests that run on both:
 * `Object.entries(transportPairs('retry'))`.
 */
export function transportPairs(label: string): Record<'memory' | 'amqp', (broker: AmqpTestBroker) => TransportPair> {
  return {
    memory: (broker) => {
      const shared = broker.track(memory());
      return { submitter: shared, consumer: shared, queueName: broker.queue(label) };
    },
    amqp: (broker) => ({ submitter: broker.amqp(), consumer: broker.amqp(), queueName: broker.queue(label) }),
  };
}
