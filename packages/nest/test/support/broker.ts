import type { AmqpTransport, AmqpTransportOptions } from '@taskq/core';
import { TestBroker as SharedTestBroker } from '../../../../test-support/broker.js';
import { testAmqp } from '../../../../test-support/taskq-amqp.js';

export { RABBIT_URL } from '../../../../test-support/rabbit.js';

/**
 * The shared test broker (test-support/broker.ts) under a `tqnest-` prefix, with the transport nest's tests hand to the
 * module.
 */
export class TestBroker extends SharedTestBroker<AmqpTransport, Partial<AmqpTransportOptions>> {
  constructor() {
    super(testAmqp, 'tqnest');
  }

  /**
   * An amqp transport under this prefix that the Nest module owns: the module closes it at shutdown, not `cleanup()`.
   */
  transport(): AmqpTransport {
    return testAmqp({ prefix: this.prefix });
  }
}
