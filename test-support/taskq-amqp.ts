// For the adapters' and examples' tests, which use the built @taskq/core (core's own tests bind src/ instead).
import {
  amqp,
  type AmqpTransport,
  type AmqpTransportOptions,
  createQueue,
  memoryResultStore,
  type ResultStore,
  silentLogger,
  type TaskQueue,
  type TaskRegistry,
  type Transport,
} from '@taskq/core';
import { TestBroker } from './broker.js';
import type { Cleanup } from './cleanup.js';
import { deleteQueues, TEST_AMQP_OPTIONS, uniqueQueue } from './rabbit.js';

/** An amqp transport on the test broker: quiet, and quick to fail when the broker is missing. */
export function testAmqp(overrides: Partial<AmqpTransportOptions> = {}): AmqpTransport {
  return amqp({ ...TEST_AMQP_OPTIONS, logger: silentLogger, ...overrides });
}

/** The shared {@link TestBroker} bound to the built @taskq/core. */
export type AmqpTestBroker = TestBroker<AmqpTransport, Partial<AmqpTransportOptions>>;

/** A {@link TestBroker} whose transports are {@link testAmqp} ones; `label` starts its prefix. */
export function testBroker(label?: string): AmqpTestBroker {
  return new TestBroker(testAmqp, label);
}

/**
 * A queue whose default is a test queue of its own (`uniqueQueue(label)`), on the test broker (through `wrap`, to
 * inject faults) with a memory result store unless `store` is given; `cleanup` closes it, then deletes the queue.
 */
export function testQueue(
  cleanup: Cleanup,
  label: string,
  registry: TaskRegistry,
  options: { wrap?: (transport: Transport) => Transport; store?: ResultStore } = {},
): { queue: TaskQueue; name: string; transport: Transport } {
  const name = uniqueQueue(label);
  const transport = options.wrap ? options.wrap(testAmqp()) : testAmqp();
  const queue = createQueue({
    registry,
    transport,
    store: options.store ?? memoryResultStore(),
    defaults: { queue: name },
  });
  cleanup.add(() => deleteQueues([name]));
  cleanup.add(() => queue.close());
  return { queue, name, transport };
}
