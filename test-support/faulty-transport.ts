import type { Transport } from '@taskq/core';
import type { OutgoingMessage } from '@taskq/core/adapter';

/**
 * Wraps a real transport to inject what the broker cannot do on demand: a
 * slow confirm (to see who waits for it) or a refused publish. Records when
 * each publish was confirmed.
 */
export function faulty(
  inner: Transport,
  fault: { delayMs?: number; fail?: () => Error | undefined },
): Transport & { confirmedAt: number[] } {
  const confirmedAt: number[] = [];
  const around = async (publish: () => Promise<void>, count: number): Promise<void> => {
    const error = fault.fail?.();
    if (error) throw error;
    if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    await publish();
    for (let i = 0; i < count; i++) confirmedAt.push(Date.now());
  };
  return {
    confirmedAt,
    get kind() {
      return inner.kind;
    },
    get durable() {
      return inner.durable;
    },
    get dead() {
      return inner.dead;
    },
    publish: (message: OutgoingMessage) => around(() => inner.publish(message), 1),
    publishMany: (messages: readonly OutgoingMessage[]) => around(() => inner.publishMany(messages), messages.length),
    consume: (options, onDelivery) => inner.consume(options, onDelivery),
    deadLetter: (message) => inner.deadLetter(message),
    retain: () => inner.retain(),
    close: () => inner.close(),
  };
}
