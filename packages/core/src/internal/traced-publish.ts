import {
  describeTransport,
  destinationOf,
  EMPTY_CARRIER,
  type PublishEvent,
  publishChannel,
  readCarrier,
  type TraceCarrier,
} from '../diagnostics.js';
import type { OutgoingMessage, Transport } from '../transport.js';

/**
 * Publishes tasks created earlier (an outbox relay's rows) with a `publish` event when anyone listens. The carrier
 * is read from each body only then.
 */
export function publishWithDiagnostics(
  transport: Transport,
  tasks: readonly { readonly message: OutgoingMessage; readonly name: string }[],
  publish: () => Promise<void>,
): Promise<void> {
  if (!publishChannel.hasSubscribers) return publish();
  const event: PublishEvent = {
    tasks: tasks.map(({ message, name }) => ({
      id: message.id,
      name,
      queue: message.queue,
      destination: destinationOf(transport, message.queue),
      delayMs: message.delayMs,
      carrier: carrierOfBody(message.body),
    })),
    transport: describeTransport(transport),
  };
  return publishChannel.tracePromise(() => (event.enter ? event.enter(publish) : publish()), event);
}

function carrierOfBody(body: Buffer): Readonly<TraceCarrier> {
  try {
    return readCarrier((JSON.parse(body.toString('utf8')) as { trace?: unknown }).trace);
  } catch {
    return EMPTY_CARRIER;
  }
}
