import { HEADER } from '../envelope.js';
import { BOUND_HEADER, boundHeaders } from '../internal/bounded-headers.js';
import { uuidv7, uuidv7Time } from '../internal/uuid.js';
import type { DeadLetterRecord, MessageHeaders } from '../transport.js';

/** Headers a dead letter gets that a retried message must not carry back to its queue. */
const DEAD_ONLY = [
  HEADER.reason,
  HEADER.error,
  HEADER.errorStack,
  HEADER.deadAt,
  HEADER.originalQueue,
  BOUND_HEADER.bodyBytes,
  // A retried letter of a newer envelope version waits its full time again.
  HEADER.versionWait,
];

/**
 * The id a dead letter is stored under. A raw message published without a
 * message id still gets one, so `taskq dead retry <id>` can name it.
 */
export function deadLetterId(id: string): string {
  return id.length > 0 ? id : uuidv7();
}

/** What the broker itself said when it dead-lettered a message (quorum queues: delivery limit). */
export interface BrokerDeath {
  readonly reason: string;
  readonly queue: string | undefined;
  readonly time: Date | undefined;
}

/** Builds the operator's view of one dead letter from its id, body and headers. */
export function toDeadLetterRecord(
  id: string,
  body: Buffer,
  headers: MessageHeaders,
  brokerDeath?: BrokerDeath,
): DeadLetterRecord {
  const submitted = peekEnvelope(body, id);
  const text = (key: string): string | undefined =>
    typeof headers[key] === 'string' && headers[key] !== '' ? (headers[key] as string) : undefined;
  const attempt = Number(headers[HEADER.attempt]);
  const deadAt = text(HEADER.deadAt);
  const fullSize = Number(headers[BOUND_HEADER.bodyBytes]);
  const truncated = Number.isInteger(fullSize) && fullSize > body.length;
  return {
    id,
    queue: text(HEADER.originalQueue) ?? brokerDeath?.queue,
    task: text(HEADER.task) ?? submitted.task,
    reason: text(HEADER.reason) ?? brokerDeath?.reason ?? 'unknown',
    error: text(HEADER.error),
    errorStack: text(HEADER.errorStack),
    attempts: Number.isInteger(attempt) && attempt > 0 ? attempt : undefined,
    deadAt: deadAt !== undefined ? validDate(new Date(deadAt)) : brokerDeath?.time,
    submittedAt: submitted.ts === undefined ? undefined : validDate(new Date(submitted.ts)),
    retries: Number(headers[HEADER.deadRetries]) || 0,
    headers,
    body,
    bodyBytes: truncated ? fullSize : body.length,
    truncated,
  };
}

/**
 * Headers for sending a dead letter back: a first attempt again, with the
 * number of such retries counted. A signed task's letter carries the
 * signature of exactly this retry, made by the worker that dead-lettered it
 * (this side holds no key). A signed letter without one (the broker
 * dead-lettered it itself) goes back as it was, so its signature still
 * holds. An unsigned one is due now, so a worker's `maxMessageAge` counts
 * from the retry.
 */
export function retryHeaders(record: DeadLetterRecord): MessageHeaders {
  // Bounded too: a letter the broker dead-lettered itself still has every header it came with.
  const headers: MessageHeaders = boundHeaders(record.headers);
  for (const key of DEAD_ONLY) delete headers[key];
  const retrySignature = headers[HEADER.retrySignature];
  delete headers[HEADER.retrySignature];
  if (retrySignature === undefined && headers[HEADER.signature] !== undefined) return headers;
  headers[HEADER.attempt] = 1;
  headers[HEADER.deadRetries] = record.retries + 1;
  if (retrySignature !== undefined) headers[HEADER.signature] = retrySignature;
  else headers[HEADER.due] = Date.now();
  return headers;
}

/**
 * Whether `retry` may send this letter back: it names its queue, and its body
 * is whole (a kept prefix of an oversized body could only be dead-lettered again).
 */
export function canRetry(record: DeadLetterRecord): record is DeadLetterRecord & { queue: string } {
  return record.queue !== undefined && !record.truncated;
}

function validDate(date: Date): Date | undefined {
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * Task id and submit time from a body that may be anything (a dead letter is often not an envelope). A version-3
 * body leaves the submit time to its id's UUIDv7 time when they are the same.
 */
function peekEnvelope(body: Buffer, id: string): { task: string | undefined; ts: number | undefined } {
  try {
    const data: unknown = JSON.parse(body.toString('utf8'));
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return { task: undefined, ts: undefined };
    const { v, task, ts } = data as { v?: unknown; task?: unknown; ts?: unknown };
    return {
      task: typeof task === 'string' ? task.slice(0, 200) : undefined,
      ts: typeof ts === 'number' ? ts : typeof v === 'number' && v >= 3 ? uuidv7Time(id) : undefined,
    };
  } catch {
    return { task: undefined, ts: undefined };
  }
}
