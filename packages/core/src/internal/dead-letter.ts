import { HEADER } from '../envelope.js';
import type { DeadLetter, Delivery, MessageHeaders } from '../transport.js';
import type { DeadLetterReason } from '../worker-events.js';
import { BOUND_HEADER, boundHeaders, clipUtf8 } from './bounded-headers.js';

const MAX_ERROR_CHARS = 2_000;
const MAX_STACK_CHARS = 8_000;

/**
 * What a dead letter keeps of a body over the worker's payload limit: such a
 * body could never run, and keeping all of it (30 MB, say) would cost the
 * broker, the worker and every `dead list` its size again.
 */
export const DEAD_BODY_PREFIX_BYTES = 4 * 1024;

/** The error message of a dead letter that had to be stored without the original headers. */
const MINIMAL_ERROR_BYTES = 512;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Message and stack of anything thrown, bounded so a header table stays within the broker's limits. */
export function describeError(error: unknown): { message: string; stack: string | undefined } {
  if (error instanceof Error)
    return {
      message: clip(error.message, MAX_ERROR_CHARS),
      stack: error.stack ? clip(error.stack, MAX_STACK_CHARS) : undefined,
    };
  let message: string;
  try {
    message = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    message = String(error);
  }
  return { message: clip(message, MAX_ERROR_CHARS), stack: undefined };
}

/**
 * The dead letter of a delivery: its body (a prefix when it is over
 * `maxBodyBytes`) and a bounded header set, the received headers plus why and
 * when, so it always encodes whatever the message carried.
 */
export function deadLetterOf(
  delivery: Delivery,
  reason: DeadLetterReason,
  error: unknown,
  attempt: number,
  maxBodyBytes: number,
): DeadLetter {
  const { message, stack } = describeError(error);
  const headers = boundHeaders({
    ...delivery.headers,
    [HEADER.reason]: reason,
    [HEADER.error]: message,
    [HEADER.errorStack]: stack,
    [HEADER.attempt]: attempt,
    [HEADER.deadAt]: new Date().toISOString(),
    [HEADER.originalQueue]: delivery.queue,
  });
  return withBoundedBody(delivery, headers, maxBodyBytes);
}

/**
 * The last resort for a dead letter the transport refused as it was: the body
 * (bounded as above) with only the reason, a short error, the attempt and the
 * time, and the count of headers left out.
 */
export function minimalDeadLetterOf(
  delivery: Delivery,
  reason: DeadLetterReason,
  error: unknown,
  attempt: number,
  maxBodyBytes: number,
): DeadLetter {
  const headers: MessageHeaders = {
    [HEADER.reason]: reason,
    [HEADER.error]: clipUtf8(describeError(error).message, MINIMAL_ERROR_BYTES),
    [HEADER.attempt]: attempt,
    [HEADER.deadAt]: new Date().toISOString(),
    [HEADER.originalQueue]: clipUtf8(delivery.queue, 255),
    [BOUND_HEADER.dropped]: Object.keys(delivery.headers).length,
  };
  return withBoundedBody(delivery, headers, maxBodyBytes);
}

function withBoundedBody(delivery: Delivery, headers: MessageHeaders, maxBodyBytes: number): DeadLetter {
  if (delivery.body.length <= maxBodyBytes)
    return { id: delivery.id, queue: delivery.queue, body: delivery.body, headers };
  // A copy, not a view: a view would keep the whole received buffer alive as long as the letter.
  const body = Buffer.from(delivery.body.subarray(0, DEAD_BODY_PREFIX_BYTES));
  return {
    id: delivery.id,
    queue: delivery.queue,
    body,
    headers: { ...headers, [BOUND_HEADER.bodyBytes]: delivery.body.length },
  };
}
