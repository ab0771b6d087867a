import { DecodeError, UnsupportedVersionError } from './errors.js';
import { isUuid, uuidv7Time } from './internal/uuid.js';

/**
 * The wire format version this release writes unless a queue is pinned to an older one (`createQueue({
 * envelopeVersion })`). Version 2 leaves an empty `meta` out; otherwise it is version 1. Version 3 also leaves the
 * task id out of the body (it is the message id, which the signature then covers) and the submit time when the id,
 * a UUIDv7, already tells it: a small task's body stays under 64 bytes, which RabbitMQ handles at a lower cost per
 * message than a larger one.
 */
export const ENVELOPE_VERSION = 3;

/** The oldest version this release reads and can write: every version from it to {@link ENVELOPE_VERSION} is read. */
export const OLDEST_ENVELOPE_VERSION = 1;

/** A wire format version this release can write. */
export type EnvelopeVersion = 1 | 2 | 3;

let newestReadable: number = ENVELOPE_VERSION;

/**
 * @internal Makes this process read envelope versions up to `version` only, as a worker of an earlier release does:
 * the fleet tests run such a worker beside current ones. Never called outside tests.
 */
export function limitReadableVersion(version: number): void {
  if (!Number.isInteger(version) || version < OLDEST_ENVELOPE_VERSION || version > ENVELOPE_VERSION)
    throw new RangeError(`expected a version from ${OLDEST_ENVELOPE_VERSION} to ${ENVELOPE_VERSION}`);
  newestReadable = version;
}

/** The newest envelope version this process reads. */
export function newestReadableVersion(): number {
  return newestReadable;
}

/** Values that context middleware may put in `meta`: plain JSON. */
export type MetaValue = string | number | boolean | null | readonly MetaValue[] | { readonly [key: string]: MetaValue };

/** Execution options that travel with one task. */
export interface EnvelopeOptions {
  attempts?: number;
  backoff?: { type: 'fixed' | 'exponential'; delayMs: number; maxDelayMs: number; jitter: boolean };
  timeoutMs?: number;
}

/**
 * One task as the worker reads it: `{ v, id, task, args, meta, ts }` and the optional `opts` and `trace`. On the wire,
 * version 2 leaves `meta` out when it is empty; version 3 also leaves `id` out (the message id carries it) and `ts`
 * when it equals the id's UUIDv7 time; parsing puts them back.
 */
export interface Envelope {
  readonly v: number;
  /** Task id (UUIDv7), allocated at submit. */
  readonly id: string;
  /** Registry id of the task function, e.g. `mail.sendWelcomeMail`. */
  readonly task: string;
  /** Arguments, encoded by the codecs. */
  readonly args: unknown[];
  /** Context from submit-side middleware (request id, locale, trace context). */
  readonly meta: Record<string, MetaValue>;
  /** Execution options from submit (attempts, backoff, timeout). */
  readonly opts?: EnvelopeOptions;
  /** Unix ms when submitted. */
  readonly ts: number;
  /**
   * Trace context of the submit (W3C `traceparent`, `tracestate`), when a tracer listened to it; signed with the rest
   * of the body. Workers that predate it ignore it.
   */
  readonly trace?: Readonly<Record<string, string>>;
}

/** Header names on the wire. */
export const HEADER = {
  attempt: 'x-taskq-attempt',
  task: 'x-taskq-task',
  signature: 'x-taskq-signature',
  reason: 'x-taskq-dead-reason',
  error: 'x-taskq-error',
  errorStack: 'x-taskq-error-stack',
  deadAt: 'x-taskq-dead-at',
  originalQueue: 'x-taskq-queue',
  /** How many times `taskq dead retry` sent the message back. */
  deadRetries: 'x-taskq-dead-retries',
  /**
   * Unix ms from which the message may run (submit time plus delay; for a retry, when it was scheduled for). Signed;
   * absent means the body's `ts`.
   */
  due: 'x-taskq-due',
  /**
   * Milliseconds a message of a newer envelope version has waited so far for a worker that reads it. Unsigned: a
   * forged value can only make the message's wait shorter.
   */
  versionWait: 'x-taskq-version-wait',
  /**
   * On a dead letter of a signed task: the signature `taskq dead retry` puts in place (attempt 1, one more dead retry).
   */
  retrySignature: 'x-taskq-retry-signature',
} as const;

/** What the worker reads from a message's headers, checked. */
export interface DeliveryFields {
  /** 1 for a first attempt. */
  readonly attempt: number;
  /** How many times the dead letter was sent back; 0 for a task that never died. */
  readonly deadRetries: number;
  /** Unix ms from which the message may run and its age counts. */
  readonly due: number;
}

/**
 * Reads the attempt, dead-retry and due headers strictly: a header that is
 * present must be a plain integer in range (a number, or a string of
 * digits from a client that sends text). Anything else is refused with a
 * reason that names the header, so it is dead-lettered instead of being
 * guessed at (`Number('-40') || 1` once let a task run 41 times).
 */
export function readDeliveryFields(headers: Readonly<Record<string, unknown>>, ts: number): DeliveryFields {
  const attempt = integerHeader(headers, HEADER.attempt, 1, 1);
  const deadRetries = integerHeader(headers, HEADER.deadRetries, 0, 0);
  const due = integerHeader(headers, HEADER.due, ts, 0);
  return { attempt, deadRetries, due };
}

function integerHeader(headers: Readonly<Record<string, unknown>>, name: string, absent: number, min: number): number {
  const raw = headers[name];
  if (raw === undefined) return absent;
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new DecodeError(
      `malformed header ${name}: expected an integer >= ${min}, got ${JSON.stringify(typeof raw === 'string' ? raw.slice(0, 40) : raw)}`,
    );
  }
  return value;
}

function fail(reason: string): never {
  throw new DecodeError(`malformed envelope: ${reason}`);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses and checks a message body. Anything that is not a well-formed
 * envelope is refused with a reason, so it can be dead-lettered instead of
 * crashing the worker. A body of a version newer than this process reads
 * throws {@link UnsupportedVersionError} (it waits for a newer worker);
 * anything else refused throws {@link DecodeError}. `messageId` is the id the
 * message came with: from version 3 on it is the task's id.
 */
export function parseEnvelope(body: Buffer, messageId: string): Envelope {
  const text = body.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new DecodeError(`message body is not JSON (${(error as Error).message})`);
  }
  if (!isPlainRecord(data)) fail('expected a JSON object');
  const v = data.v;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < OLDEST_ENVELOPE_VERSION)
    fail(
      `unsupported version ${JSON.stringify(v)} (this worker reads versions ${OLDEST_ENVELOPE_VERSION} to ${newestReadable})`,
    );
  if (v > newestReadable) throw new UnsupportedVersionError(v, newestReadable);
  if (v >= 3) {
    // One id only: a body that names one of its own could disagree with the message id the signature covers.
    if (data.id !== undefined) fail('version 3 carries the task id as the message id, not in the body');
    if (!isUuid(messageId)) fail('the message id is not a UUID');
    data.id = messageId;
  } else if (!isUuid(data.id)) fail('"id" is not a UUID');
  if (typeof data.task !== 'string' || data.task.length === 0 || data.task.length > 200)
    fail('"task" is not a task id');
  if (!Array.isArray(data.args)) fail('"args" is not an array');
  // Version 2 leaves an empty meta out; version 1 always writes it.
  if (v === 1 || data.meta !== undefined) {
    if (!isPlainRecord(data.meta)) fail('"meta" is not an object');
  } else data.meta = {};
  // JSON.parse makes a key of `__proto__` or `constructor` only from text that spells it, or spells it with \u
  // escapes: a body with neither cannot hold one, and the walk over every value is skipped.
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')) {
    const hostile = findHostileKey(data);
    if (hostile !== undefined)
      fail(`refused the key ${hostile} (a prototype-pollution pattern; no task argument or context may use it)`);
  }
  if (v >= 3 && data.ts === undefined) {
    const ts = uuidv7Time(messageId);
    if (ts === undefined) fail('"ts" is missing and the message id is not a UUIDv7 that would tell it');
    data.ts = ts;
  } else if (typeof data.ts !== 'number') fail('"ts" is not a number');
  if (data.opts !== undefined) checkOptions(data.opts);
  return data as unknown as Envelope;
}

/**
 * The body of one task in `version` (see {@link ENVELOPE_VERSION}): version 2 leaves an empty `meta` out; version 3
 * also the id, and the submit time when it is the id's UUIDv7 time; all leave out `opts` and `trace` when they are
 * undefined.
 */
export function encodeEnvelope(envelope: Envelope, version: EnvelopeVersion): Buffer {
  if (version === 1) return Buffer.from(JSON.stringify(envelope), 'utf8');
  const { id, task, args, meta, ts, opts, trace } = envelope;
  // Only the keys that are there: JSON.stringify is quickest on an object without undefined values.
  let body: Record<string, unknown>;
  if (version === 2) body = { v: 2, id, task, args, ts };
  else {
    body = { v: 3, task, args };
    if (ts !== uuidv7Time(id)) body.ts = ts;
  }
  if (hasKeys(meta)) body.meta = meta;
  if (opts !== undefined) body.opts = opts;
  if (trace !== undefined) body.trace = trace;
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function hasKeys(record: object): boolean {
  for (const _ in record) return true;
  return false;
}

/**
 * The path of the first `__proto__` key, or of a `constructor` key holding a
 * `prototype` key, anywhere in parsed JSON; undefined when there is none.
 * JSON.parse turns both into harmless own properties, but task code that
 * merges or assigns them (`Object.assign`, deep-merge helpers) would write to
 * Object.prototype, so a message carrying them is refused before any code
 * sees it. Iterative: a deeply nested body cannot exhaust the stack.
 */
export function findHostileKey(root: unknown): string | undefined {
  // Paths are only spelled out for a hit: each node keeps a link to its parent, no string per node.
  const stack: Node[] = [{ value: root, key: '', parent: undefined }];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    const value = node.value;
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: node });
      continue;
    }
    for (const key of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[key];
      if (key === '__proto__') return `"__proto__" at ${pathOf({ value: child, key, parent: node })}`;
      if (key === 'constructor' && typeof child === 'object' && child !== null && Object.hasOwn(child, 'prototype')) {
        return `"constructor.prototype" at ${pathOf({ value: child, key, parent: node })}.prototype`;
      }
      stack.push({ value: child, key, parent: node });
    }
  }
  return undefined;
}

interface Node {
  readonly value: unknown;
  readonly key: string | number;
  readonly parent: Node | undefined;
}

function pathOf(node: Node): string {
  const keys: Array<string | number> = [];
  for (let n: Node | undefined = node; n?.parent !== undefined; n = n.parent) keys.unshift(n.key);
  return keys.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? key : `.${key}`)).join('');
}

function checkOptions(opts: unknown): void {
  if (!isPlainRecord(opts)) fail('"opts" is not an object');
  if (opts.attempts !== undefined && !(Number.isInteger(opts.attempts) && (opts.attempts as number) >= 1))
    fail('"opts.attempts" is not a positive integer');
  if (opts.timeoutMs !== undefined && !(typeof opts.timeoutMs === 'number' && opts.timeoutMs > 0))
    fail('"opts.timeoutMs" is not a positive number');
  if (opts.backoff !== undefined) {
    const b = opts.backoff;
    if (
      !isPlainRecord(b) ||
      (b.type !== 'fixed' && b.type !== 'exponential') ||
      typeof b.delayMs !== 'number' ||
      typeof b.maxDelayMs !== 'number'
    ) {
      fail('"opts.backoff" is malformed');
    }
  }
}
