import type { Transport } from '@taskq/core';
import { withPublishSide } from './wrapped-transport.js';

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
  return Object.assign(
    withPublishSide(inner, {
      publish: (message) => around(() => inner.publish(message), 1),
      publishMany: (messages) => around(() => inner.publishMany(messages), messages.length),
    }),
    { confirmedAt },
  );
}
