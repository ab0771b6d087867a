import type { Transport } from '@taskq/core';
import type { OutgoingMessage } from '@taskq/core/adapter';

/** The publishing side a test wrapper replaces; everything else goes to the wrapped transport. */
export interface PublishSide {
  publish(message: OutgoingMessage): Promise<void>;
  publishMany(messages: readonly OutgoingMessage[]): Promise<void>;
}

/** `inner` with its publishes replaced by `side`: consuming, dead letters and lifetime stay the real transport's. */
export function withPublishSide(inner: Transport, side: PublishSide): Transport {
  return {
    get kind() {
      return inner.kind;
    },
    get durable() {
      return inner.durable;
    },
    get dead() {
      return inner.dead;
    },
    publish: (message) => side.publish(message),
    publishMany: (messages) => side.publishMany(messages),
    consume: (options, onDelivery) => inner.consume(options, onDelivery),
    deadLetter: (message) => inner.deadLetter(message),
    retain: () => inner.retain(),
    close: () => inner.close(),
  };
}
