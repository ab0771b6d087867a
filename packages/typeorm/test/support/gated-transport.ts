import type { Transport } from '@taskq/core';
import type { OutgoingMessage } from '@taskq/core/adapter';
import { withPublishSide } from '../../../../test-support/wrapped-transport.js';

/** A real transport whose publishes wait while it is shut: the test looks at the database in between. */
export interface GatedTransport extends Transport {
  /** Every message handed to `publish`, in order (clear it between rounds). */
  readonly messages: OutgoingMessage[];
  /** How many publishes have been held back so far. */
  waiting(): number;
  /** Lets the held publishes and every later one through. */
  open(): void;
  /** Holds back the publishes that come from now on, until the next `open()`. */
  shut(): void;
}

/** Wraps `inner`, shut: nothing is published until `open()`. */
export function gated(inner: Transport): GatedTransport {
  const waiters: Array<() => void> = [];
  const messages: OutgoingMessage[] = [];
  let opened = false;
  let waiting = 0;
  const publish = async (message: OutgoingMessage): Promise<void> => {
    messages.push(message);
    if (!opened) {
      waiting++;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    await inner.publish(message);
  };
  return Object.assign(
    withPublishSide(inner, {
      publish,
      publishMany: async (batch) => {
        await Promise.all(batch.map(publish));
      },
    }),
    {
      messages,
      waiting: () => waiting,
      open: () => {
        opened = true;
        for (const resolve of waiters.splice(0)) resolve();
      },
      shut: () => {
        opened = false;
      },
    },
  );
}
