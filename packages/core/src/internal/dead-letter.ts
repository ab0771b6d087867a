import { HEADER } from '../envelope.js';
import type { Delivery, MessageHeaders } from '../transport.js';
import type { DeadLetterReason } from '../worker-events.js';

const MAX_ERROR_CHARS = 2_000;
const MAX_STACK_CHARS = 8_000;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Message and stack of anything thrown, bounded so a header table stays within the broker's limits. */
export function describeError(error: unknown): { message: string; stack: string | undefined } {
  if (error instanceof Error) return { message: clip(error.message, MAX_ERROR_CHARS), stack: error.stack ? clip(error.stack, MAX_STACK_CHARS) : undefined };
  let message: string;
  try {
    message = typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { message: clip(message, MAX_ERROR_CHARS), stack: undefined };
}

/** The headers a dead letter carries: the original ones plus why and when. */
export function deadLetterHeaders(delivery: Delivery, reason: DeadLetterReason, error: unknown, attempt: number): MessageHeaders {
  const { message, stack } = describeError(error);
  return {
    ...delivery.headers,
    [HEADER.reason]: reason,
    [HEADER.error]: message,
    [HEADER.errorStack]: stack,
    [HEADER.attempt]: attempt,
    [HEADER.deadAt]: new Date().toISOString(),
    [HEADER.originalQueue]: delivery.queue,
  };
}
