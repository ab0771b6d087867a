// Once a submit or an attempt has ended, its diagnostics event no longer reaches the span or the context the
// instrumentation hung on it: taskq may keep an event a little longer than the operation, and a busy worker kept
// every ended span alive that way until the next full collection (measured with
// `node bench/dist/tools/gc-promotion.js --role worker`).
import { type TracingChannelSubscribers, tracingChannel } from 'node:diagnostics_channel';
import { createQueue, createWorker, silentLogger, TaskRegistry } from '@taskq/core';
import { CHANNELS, type ProcessEvent, type SubmitEvent } from '@taskq/core/diagnostics';
import { afterAll, describe, expect, it } from 'vitest';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';
import { setupTelemetry } from './support/telemetry.js';

const telemetry = setupTelemetry();
const broker = testBroker('tqotelrel');
afterAll(async () => {
  await broker.cleanup();
  await telemetry.shutdown();
});

/** What an event holds besides taskq's own fields: the subscriber's `enter` and any symbol-keyed property it set. */
function heldBySubscribers(event: object): { enter: unknown; symbols: unknown[] } {
  const symbols = Object.getOwnPropertySymbols(event).map((key) => (event as Record<symbol, unknown>)[key]);
  return { enter: (event as { enter?: unknown }).enter, symbols };
}

/**
 * Watches one channel after the instrumentation (subscribers run in the order they subscribed): what the event held
 * when the operation started and once it ended.
 */
function watch<E extends object>(name: string) {
  const started: Array<ReturnType<typeof heldBySubscribers>> = [];
  const ended: Array<ReturnType<typeof heldBySubscribers>> = [];
  const subscribers = {
    start: (event: E) => started.push(heldBySubscribers(event)),
    asyncEnd: (event: E) => ended.push(heldBySubscribers(event)),
  } as unknown as TracingChannelSubscribers<E>;
  tracingChannel<unknown, E>(name).subscribe(subscribers);
  return { started, ended, stop: () => tracingChannel<unknown, E>(name).unsubscribe(subscribers) };
}

describe('an ended operation', () => {
  it('keeps neither its span nor its context on the submit and process events', async () => {
    const submits = watch<SubmitEvent>(CHANNELS.submit);
    const attempts = watch<ProcessEvent>(CHANNELS.process);
    function sendReceipt(orderId: number): number {
      return orderId;
    }
    const registry = new TaskRegistry().add('billing.sendReceipt', sendReceipt);
    const queueName = broker.queue('release');
    const transport = broker.amqp();
    const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, queues: [queueName], logger: silentLogger });
    await worker.start();
    try {
      await queue.submit(sendReceipt, 42);
      await waitFor(() => attempts.ended.length === 1, 'the attempt to end');
      // While they ran, both carried the instrumentation's context and span...
      for (const held of [submits.started[0], attempts.started[0]]) {
        expect(typeof held?.enter).toBe('function');
        expect(held?.symbols.some((value) => value !== undefined)).toBe(true);
      }
      // ...and once they ended, nothing of them.
      for (const held of [submits.ended[0], attempts.ended[0]]) {
        expect(held?.enter).toBeUndefined();
        expect(held?.symbols.every((value) => value === undefined)).toBe(true);
      }
      expect(telemetry.spans().map((s) => s.name)).toEqual(
        expect.arrayContaining([`send ${queueName}`, `process ${queueName}`]),
      );
    } finally {
      submits.stop();
      attempts.stop();
      await worker.stop();
      await queue.close();
    }
  });
});
