/**
 * `@taskq/core/diagnostics`: what taskq reports through `node:diagnostics_channel`, for tracing and metrics
 * (`@taskq/opentelemetry` turns it into spans and metrics; anything else may subscribe too). Each operation is a
 * `TracingChannel` (`tracing:taskq:<operation>:start|end|asyncStart|asyncEnd|error`), published only while it has
 * subscribers: with none, taskq pays one property read per operation. See docs/observability.md.
 *
 * @packageDocumentation
 */
import { type TracingChannel, tracingChannel } from 'node:diagnostics_channel';
import type { Transport } from './transport.js';

/** Names of taskq's tracing channels, for `diagnostics_channel.tracingChannel(name)`. */
export const CHANNELS = {
  /** One `submit()` or `submitMany()`: from the call until its handles resolve (published, or staged in a unit of work). */
  submit: 'taskq:submit',
  /** Tasks handed to the transport, until the broker confirmed them: a unit of work's commit, the outbox relay. */
  publish: 'taskq:publish',
  /** A message arrived at a worker: its envelope read and checked, and what the worker decided. */
  receive: 'taskq:receive',
  /** One attempt of a task in a worker, from its start until the message is settled (acked, retried, dead). */
  process: 'taskq:process',
} as const;

/**
 * Trace context as text fields (W3C `traceparent`, `tracestate`). A `submit` start subscriber writes it; it travels
 * in the envelope, inside what signing covers, and the worker hands it to `process` and `receive` subscribers.
 */
export type TraceCarrier = Record<string, string>;

/** Where a transport puts tasks: what messaging spans call the system and the destination. */
export interface TransportDescription {
  /** `amqp` or `memory` (a custom transport's own name). */
  readonly kind: string;
  /** The transport's prefix (the amqp transport's naming prefix); undefined when it has none. */
  readonly prefix: string | undefined;
}

/** One task as the events describe it: never its arguments. */
export interface TaskDescription {
  /** Task id (UUIDv7): the message id. */
  readonly id: string;
  /** Registry id of the task (`mail.sendWelcomeMail`). */
  readonly name: string;
  /** Logical queue (`default`, `mail`). */
  readonly queue: string;
  /** The transport's own name for the queue (for RabbitMQ the queue the message is routed to). */
  readonly destination: string;
  /** Delay before it may run, in ms; undefined when it runs at once. */
  readonly delayMs: number | undefined;
}

/**
 * A context a subscriber may run the operation in: a `start` subscriber that sets it (an OpenTelemetry
 * instrumentation making its span the active one) has the rest of the operation, and what the task itself calls,
 * run inside it.
 */
export type Enter = <T>(fn: () => T) => T;

/** `taskq:submit`. */
export interface SubmitEvent {
  /** The task of a `submit()`, or every task of a `submitMany()` in order. */
  readonly tasks: readonly TaskDescription[];
  /** Filled by `start` subscribers; every task of the submit carries it. */
  readonly carrier: TraceCarrier;
  /**
   * True when a unit of work (or an outbox) holds the tasks: the submit only creates them, a `publish` event comes at
   * commit. False when the submit publishes and waits for the confirm itself.
   */
  readonly deferred: boolean;
  readonly transport: TransportDescription;
  /** Set by a `start` subscriber: the submit (and its publish) runs inside it. */
  enter?: Enter;
  /** Set by the channel when the submit rejects. */
  error?: unknown;
}

/** One task of a `publish` event, with the trace context it was created with. */
export interface PublishedTask extends TaskDescription {
  /** The carrier its submit wrote; empty when nobody traced the submit. */
  readonly carrier: Readonly<TraceCarrier>;
}

/** `taskq:publish`: tasks created earlier (a unit of work's commit, the outbox relay) going to the broker. */
export interface PublishEvent {
  readonly tasks: readonly PublishedTask[];
  readonly transport: TransportDescription;
  /** Set by a `start` subscriber: the publish runs inside it. */
  enter?: Enter;
  error?: unknown;
}

/** What a worker decided about a message it received. */
export type ReceiveVerdict = 'run' | 'later' | 'dead';

/** `taskq:receive`: synchronous, around reading and checking one message. */
export interface ReceiveEvent {
  /** The message id (the task id for a well-formed message). */
  readonly id: string;
  /** Logical queue it came from. */
  readonly queue: string;
  /** The transport's own name for that queue. */
  readonly destination: string;
  readonly transport: TransportDescription;
  readonly bodyBytes: number;
  readonly redelivered: boolean;
  /** Registry id of the task, once the envelope was read. */
  name?: string;
  /** The carrier from the envelope, once read. */
  carrier?: Readonly<TraceCarrier>;
  /** Set before `end`. */
  verdict?: ReceiveVerdict;
  /** With verdict `dead`: why (`malformed-message`, `bad-signature`, `unknown-task`, ...). */
  reason?: string;
}

/** What became of one attempt. */
export type ProcessOutcome =
  /** The task returned; the message is acked. */
  | 'completed'
  /** It failed and its next attempt is scheduled. */
  | 'retried'
  /** It failed for the last time (or cannot run) and was dead-lettered. */
  | 'dead'
  /** It was cancelled while it ran. */
  | 'cancelled'
  /** The result store knew it as finished (a redelivery or replay): not run again. */
  | 'skipped'
  /** Its message went back to the queue (a failed retry publish, a forced stop). */
  | 'requeued';

/** `taskq:process`: one attempt, from its start until its message is settled. */
export interface ProcessEvent {
  readonly task: TaskDescription & {
    /** 1 for the first attempt. */
    readonly attempt: number;
    readonly maxAttempts: number;
    /** Unix ms when it was submitted. */
    readonly enqueuedAt: number;
    /** Unix ms from which it could run (submit time plus delay, or when this retry was due). */
    readonly dueAt: number;
    readonly redelivered: boolean;
  };
  /** The carrier from the envelope (empty when the submit was not traced). */
  readonly carrier: Readonly<TraceCarrier>;
  readonly transport: TransportDescription;
  /** Set by a `start` subscriber: the task's middleware and function run inside it. */
  enter?: Enter;
  /** Set before `asyncEnd`. */
  outcome?: ProcessOutcome;
  /** The error of a failed attempt (outcomes `retried`, `dead`, `cancelled`). */
  error?: unknown;
  /** With outcome `dead`: why it was dead-lettered (`attempts-exhausted`, `non-retryable`, ...). */
  reason?: string;
  /** Milliseconds the task's middleware and function ran. */
  durationMs?: number;
}

/** @internal */
export const submitChannel: TracingChannel<unknown, SubmitEvent> = tracingChannel(CHANNELS.submit);
/** @internal */
export const publishChannel: TracingChannel<unknown, PublishEvent> = tracingChannel(CHANNELS.publish);
/** @internal */
export const receiveChannel: TracingChannel<unknown, ReceiveEvent> = tracingChannel(CHANNELS.receive);
/** @internal */
export const processChannel: TracingChannel<unknown, ProcessEvent> = tracingChannel(CHANNELS.process);

/** @internal */
export function describeTransport(transport: Transport): TransportDescription {
  return { kind: transport.kind, prefix: transport.prefix };
}

/** @internal */
export function destinationOf(transport: Transport, queue: string): string {
  return transport.destination?.(queue) ?? queue;
}

/** @internal Largest carrier accepted from a message: a few W3C fields, never a payload. */
const MAX_CARRIER_FIELDS = 8;
const MAX_CARRIER_VALUE = 512;

/**
 * @internal The carrier as it may travel: string fields only, bounded. A subscriber's mistake (a number, a huge
 * baggage) must not make the task unpublishable or the envelope unreadable.
 */
export function boundCarrier(carrier: TraceCarrier): TraceCarrier | undefined {
  let out: TraceCarrier | undefined;
  let fields = 0;
  for (const key of Object.keys(carrier)) {
    const value = carrier[key];
    if (typeof value !== 'string' || value.length > MAX_CARRIER_VALUE || key.length > 64) continue;
    if (++fields > MAX_CARRIER_FIELDS) break;
    (out ??= {})[key] = value;
  }
  return out;
}

/** @internal The carrier read from a message: same bounds; anything else is ignored, never a reason to refuse it. */
export function readCarrier(value: unknown): Readonly<TraceCarrier> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return EMPTY_CARRIER;
  return boundCarrier(value as TraceCarrier) ?? EMPTY_CARRIER;
}

/** @internal */
export const EMPTY_CARRIER: Readonly<TraceCarrier> = Object.freeze({});

/** The trace id of a W3C `traceparent` in a carrier, or undefined. */
export function traceIdOf(carrier: Readonly<TraceCarrier> | undefined): string | undefined {
  const parent = carrier?.traceparent;
  if (typeof parent !== 'string') return undefined;
  const match = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}/.exec(parent);
  return match && match[1] !== '0'.repeat(32) ? match[1] : undefined;
}
