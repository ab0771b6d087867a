import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { ProcessEvent, PublishEvent, SubmitEvent, TraceCarrier } from '@taskq/core/diagnostics';
import { ATTR } from '../semconv.js';
import { commonQueue, destinationAttributes, errorType, messagingSystem } from './attributes.js';

/**
 * The span of an operation still under way, kept on its event object (each event is one operation): a property, not a
 * WeakMap entry, which the garbage collector would have to trace as an ephemeron for every task in flight.
 */
const SPAN: unique symbol = Symbol('taskq.opentelemetry.span');
type Carrying = { [SPAN]?: Span | undefined };

function keep(event: object, span: Span): void {
  (event as Carrying)[SPAN] = span;
}

/**
 * The event's span, once: the second call (an operation that both threw and rejected) gets nothing. The context the
 * operation ran in goes too: taskq may hold the event a little longer, and through `enter` it would keep the ended
 * span (attributes, links) alive with it.
 */
function take(event: { enter?: unknown }): Span | undefined {
  event.enter = undefined;
  const span = (event as Carrying)[SPAN];
  if (span) (event as Carrying)[SPAN] = undefined;
  return span;
}

function enterer(ctx: Context): <T>(fn: () => T) => T {
  return (fn) => context.with(ctx, fn);
}

/** The span context a carrier holds (what its submit's span was), or undefined when the submit was not traced. */
function creationContext(carrier: Readonly<TraceCarrier>): Context | undefined {
  if (!carrier.traceparent) return undefined;
  const extracted = propagation.extract(ROOT_CONTEXT, carrier);
  const spanContext = trace.getSpanContext(extracted);
  return spanContext && isSpanContextValid(spanContext) ? extracted : undefined;
}

function linkTo(ctx: Context | undefined): Link[] {
  const spanContext = ctx && trace.getSpanContext(ctx);
  return spanContext ? [{ context: spanContext }] : [];
}

function producerAttributes(
  operation: 'send' | 'create',
  transport: SubmitEvent['transport'],
  tasks: SubmitEvent['tasks'],
): { name: string; attributes: Attributes } {
  const one = commonQueue(tasks);
  const attributes: Attributes = one
    ? destinationAttributes(transport, one)
    : { [ATTR.messagingSystem]: messagingSystem(transport) };
  attributes[ATTR.messagingOperationType] = operation;
  attributes[ATTR.messagingOperationName] = operation;
  if (tasks.length === 1) {
    attributes[ATTR.messagingMessageId] = tasks[0].id;
    attributes[ATTR.taskName] = tasks[0].name;
  } else {
    attributes[ATTR.messagingBatchMessageCount] = tasks.length;
    const name = tasks[0]?.name;
    if (name !== undefined && tasks.every((t) => t.name === name)) attributes[ATTR.taskName] = name;
  }
  return { name: one ? `${operation} ${one.queue}` : operation, attributes };
}

/**
 * A submit: `send <queue>` when it publishes itself, `create <queue>` when a unit of work or outbox holds the tasks
 * (their `send` comes with the publish event). Its context goes into the carrier every envelope carries, and the
 * rest of the submit runs inside it (a broker client's own publish span nests under it).
 */
export function startSubmit(tracer: Tracer, event: SubmitEvent): void {
  const operation = event.deferred ? 'create' : 'send';
  const { name, attributes } = producerAttributes(operation, event.transport, event.tasks);
  const parent = context.active();
  const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes }, parent);
  const ctx = trace.setSpan(parent, span);
  propagation.inject(ctx, event.carrier);
  event.enter = enterer(ctx);
  keep(event, span);
}

/**
 * Tasks created earlier going to the broker: `send <queue>`, a child of whatever runs the commit or the relay, with a
 * link to each task's creation context. The envelopes keep the context of their `create` span (it is signed).
 */
export function startPublish(tracer: Tracer, event: PublishEvent): void {
  const { name, attributes } = producerAttributes('send', event.transport, event.tasks);
  const links: Link[] = [];
  for (const task of event.tasks) links.push(...linkTo(creationContext(task.carrier)));
  const parent = context.active();
  const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes, links }, parent);
  event.enter = enterer(trace.setSpan(parent, span));
  keep(event, span);
}

/**
 * One attempt: `process <queue>`, whose parent is the creation context from the envelope (so the request and the
 * worker are one trace) and which links to it too (every attempt, retries included, points at the same creation
 * context, also where a backend shows links only). The task runs inside it.
 */
export function startProcess(tracer: Tracer, event: ProcessEvent): void {
  const { task } = event;
  const attributes = destinationAttributes(event.transport, task);
  attributes[ATTR.messagingOperationType] = 'process';
  attributes[ATTR.messagingOperationName] = 'process';
  attributes[ATTR.messagingMessageId] = task.id;
  attributes[ATTR.taskName] = task.name;
  attributes[ATTR.attempt] = task.attempt;
  attributes[ATTR.maxAttempts] = task.maxAttempts;
  const created = creationContext(event.carrier);
  // Never the ambient context: a consumer callback inherits whatever context opened the connection.
  const parent = created ?? ROOT_CONTEXT;
  const span = tracer.startSpan(
    `process ${task.queue}`,
    { kind: SpanKind.CONSUMER, attributes, links: linkTo(created) },
    parent,
  );
  event.enter = enterer(trace.setSpan(parent, span));
  keep(event, span);
}

function fail(span: Span, error: unknown): void {
  span.setAttribute(ATTR.errorType, errorType(error));
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : undefined,
  });
}

/** Ends a submit's or publish's span (once): with its error when the operation rejected. */
export function endProducer(event: SubmitEvent | PublishEvent): void {
  const span = take(event);
  if (!span) return;
  if (event.error !== undefined) fail(span, event.error);
  span.end();
}

/** Ends an attempt's span with its outcome; a failed attempt (one with an error) has status ERROR. */
export function endProcess(event: ProcessEvent): void {
  const span = take(event);
  if (!span) return;
  if (event.outcome) span.setAttribute(ATTR.outcome, event.outcome);
  if (event.reason) span.setAttribute(ATTR.deadLetterReason, event.reason);
  if (event.error !== undefined) fail(span, event.error);
  span.end();
}
