import { randomUUID } from 'node:crypto';
import type { AmqpTransport } from '@taskq/core';
import { deletePrefix, queueDepth } from '../../../../test-support/rabbit.js';
import { testAmqp } from '../../../../test-support/taskq-amqp.js';

export { RABBIT_URL } from '../../../../test-support/rabbit.js';

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
    return testAmqp({ prefix: this.prefix });
  }

  /** Notes a logical queue for cleanup and returns its name. */
  queue(name: string): string {
    this.#queues.add(name);
    return name;
  }

  /** Messages ready in a logical queue (0 when it was never declared). */
  depth(logical: string): Promise<number> {
    return queueDepth(logical, this.prefix);
  }

  cleanup(): Promise<void> {
    return deletePrefix(this.prefix, this.#queues);
  }
}
