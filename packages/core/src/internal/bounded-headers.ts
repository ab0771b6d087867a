import { HEADER } from '../envelope.js';
import type { MessageHeaders } from '../transport.js';

/**
 * Headers taskq adds when it bounds a header set. Not in {@link HEADER}: they
 * describe what was cut, not the task.
 */
export const BOUND_HEADER = {
  /** How many of the received headers were left out of a retry or dead letter. */
  dropped: 'x-taskq-headers-dropped',
  /** Size in bytes of a dead letter's body when only a prefix of it was kept. */
  bodyBytes: 'x-taskq-dead-body-bytes',
} as const;

/**
 * Largest header table taskq publishes. amqplib encodes a table in a 64 KiB
 * buffer and throws past it; the broker closes the whole connection on a
 * header frame over its frame_max (128 KiB by default). Below both, with room
 * for the other message properties.
 */
export const MAX_HEADER_TABLE_BYTES = 60 * 1024;

/** Headers a retry or dead letter keeps besides taskq's own, and the room they may take together. */
const MAX_FOREIGN_HEADERS = 32;
const MAX_FOREIGN_BYTES = 8 * 1024;
const MAX_KEY_BYTES = 128;
const MAX_VALUE_BYTES = 1024;

/** Bytes a taskq header value may take; the error and its stack are bounded where they are made. */
const OWN_VALUE_BYTES: Record<string, number> = { [HEADER.error]: 2 * 1024, [HEADER.errorStack]: 4 * 1024 };

const OWN = new Set<string>([...Object.values(HEADER), ...Object.values(BOUND_HEADER)]);

/** `text` cut to at most `maxBytes` of UTF-8 at a character boundary, with `…` when cut. */
export function clipUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  // '…' is 3 bytes; a cut in the middle of a character leaves U+FFFD, which is dropped.
  const cut = Buffer.from(text, 'utf8')
    .subarray(0, Math.max(0, maxBytes - 3))
    .toString('utf8');
  return `${cut.endsWith('\uFFFD') ? cut.slice(0, -1) : cut}…`;
}

/**
 * Upper bound of the size of `headers` as an AMQP field table (what amqplib
 * writes): a length, then per entry a short-string key, a type tag and the value.
 */
export function headerTableBytes(headers: MessageHeaders | undefined): number {
  let size = 4;
  if (!headers) return size;
  for (const key in headers) {
    const value: unknown = headers[key];
    if (value === undefined) continue;
    size += 2 + Buffer.byteLength(key, 'utf8') + valueBytes(value);
  }
  return size;
}

function valueBytes(value: unknown): number {
  if (typeof value === 'string') return 4 + Buffer.byteLength(value, 'utf8');
  if (typeof value === 'boolean') return 1;
  if (typeof value === 'number') return 8;
  // Not a MessageHeaders value (a caller outside TypeScript): counted as too large to risk.
  return MAX_HEADER_TABLE_BYTES;
}

/**
 * The headers a retry or a dead letter carries: taskq's own (each value
 * bounded) and a bounded, truncated copy of the rest, so the set always
 * encodes whatever the received message carried. How many were left out is
 * counted in {@link BOUND_HEADER.dropped}.
 */
export function boundHeaders(headers: MessageHeaders): MessageHeaders {
  const own: MessageHeaders = {};
  const foreign: MessageHeaders = {};
  let foreignBytes = 0;
  let foreignCount = 0;
  let dropped = 0;
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined || key === BOUND_HEADER.dropped) continue;
    if (OWN.has(key)) {
      own[key] = typeof value === 'string' ? clipUtf8(value, OWN_VALUE_BYTES[key] ?? MAX_VALUE_BYTES) : value;
      continue;
    }
    const kept = typeof value === 'string' ? clipUtf8(value, MAX_VALUE_BYTES) : value;
    const bytes = 2 + Buffer.byteLength(key, 'utf8') + valueBytes(kept);
    if (
      Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES ||
      foreignCount >= MAX_FOREIGN_HEADERS ||
      foreignBytes + bytes > MAX_FOREIGN_BYTES ||
      valueBytes(kept) >= MAX_HEADER_TABLE_BYTES
    ) {
      dropped++;
      continue;
    }
    foreign[key] = kept;
    foreignBytes += bytes;
    foreignCount++;
  }
  const previous = Number(headers[BOUND_HEADER.dropped]);
  const total = dropped + (Number.isInteger(previous) && previous > 0 ? previous : 0);
  return total > 0 ? { ...foreign, ...own, [BOUND_HEADER.dropped]: total } : { ...foreign, ...own };
}
