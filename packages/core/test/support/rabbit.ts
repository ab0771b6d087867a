// The shared test broker helpers, with testAmqp bound to this package's src/ (the tests prove src/, not dist/).
import { amqp, type AmqpTransport, type AmqpTransportOptions, silentLogger } from '../../src/index.js';
import { TestBroker } from '../../../../test-support/broker.js';
import { TEST_AMQP_OPTIONS } from '../../../../test-support/rabbit.js';

export { deleteQueues, queueDepth, RABBIT_URL, uniqueQueue } from '../../../../test-support/rabbit.js';

/** An amqp transport for tests: quiet, and quick to give up when the broker is missing (so CI fails, never hangs). */
export function testAmqp(overrides: Parameters<typeof amqp>[0] = {}): AmqpTransport {
  return amqp({ ...TEST_AMQP_OPTIONS, logger: silentLogger, ...overrides });
}

/** The shared {@link TestBroker} bound to this package's src/. */
export type AmqpTestBroker = TestBroker<AmqpTransport, Partial<AmqpTransportOptions>>;

/** A {@link TestBroker} whose transports are {@link testAmqp} ones; `label` starts its prefix. */
export function testBroker(label?: string): AmqpTestBroker {
  return new TestBroker(testAmqp, label);
}
