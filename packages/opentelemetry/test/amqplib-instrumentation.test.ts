// With @opentelemetry/instrumentation-amqplib registered as well (in a CommonJS child process, where it can patch
// amqplib before taskq loads it): it does produce spans, taskq's parenting is intact (process span → our send span),
// amqplib's publish span nests in the same trace under our send span, and no two trace contexts disagree (the
// traceparent amqplib writes in the AMQP headers names the envelope's trace).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RABBIT_URL, withChannel } from '../../../test-support/rabbit.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { TracedChild } from './support/child.js';

const broker = testBroker('tqotel');
const queueName = broker.queue('amqplib');
const inspectQueue = broker.queue('inspect');
let child: TracedChild;
let ids: { run: string; kept: string };

beforeAll(async () => {
  child = new TracedChild('amqplib-app.cjs', {
    RABBIT_URL,
    RABBIT_PREFIX: broker.prefix,
    QUEUE: queueName,
    INSPECT_QUEUE: inspectQueue,
    OTEL_AMQPLIB: '1',
  });
  const message = await child.message((m): m is { done: { run: string; kept: string } } =>
    Boolean(m && typeof m === 'object' && 'done' in m),
  );
  ids = message.done;
  expect(await child.stop()).toBe(0);
});

afterAll(async () => {
  await child?.stop();
  await broker.cleanup();
});

const traceIdOf = (traceparent: unknown) => /^00-([\da-f]{32})-/.exec(String(traceparent))?.[1];

describe('alongside @opentelemetry/instrumentation-amqplib', () => {
  it('amqplib made spans; our process span is a child of our send span; its publish span sits under our send span', () => {
    const spans = child.spans();
    const amqplibSpans = spans.filter((s) => s.scope === '@opentelemetry/instrumentation-amqplib');
    console.log(spans.map((s) => `${s.scope}: ${s.kind} ${s.name} (${s.spanId} ← ${s.parentSpanId})`).join('\n'));
    expect(amqplibSpans.length).toBeGreaterThan(0);

    const request = spans.find((s) => s.name === 'request');
    const send = spans.find((s) => s.scope === '@taskq/opentelemetry' && s.name === `send ${queueName}`);
    const processed = spans.find((s) => s.scope === '@taskq/opentelemetry' && s.name === `process ${queueName}`);
    expect(send?.parentSpanId).toBe(request?.spanId);
    expect(processed?.traceId).toBe(request?.traceId);
    expect(processed?.parentSpanId).toBe(send?.spanId);
    expect(processed?.links).toEqual([{ traceId: send?.traceId, spanId: send?.spanId }]);
    expect(processed?.attributes['messaging.message.id']).toBe(ids.run);

    // amqplib's publish span of our message: same trace, under our send span (the submit ran inside it).
    const published = amqplibSpans.filter((s) => s.kind === 'PRODUCER' && s.parentSpanId === send?.spanId);
    expect(published).toHaveLength(1);
    expect(published[0].traceId).toBe(send?.traceId);
    // Whatever amqplib's consumer span is parented to, it is not our process span's parent.
    for (const span of amqplibSpans.filter((s) => s.kind === 'CONSUMER'))
      expect(processed?.parentSpanId).not.toBe(span.spanId);
  });

  it("the traceparent in the AMQP headers (amqplib's) and the one in the envelope (ours) name the same trace", async () => {
    const message = await withChannel(async (channel) => channel.get(broker.physical(inspectQueue), { noAck: true }));
    expect(message).not.toBe(false);
    if (message === false) return;
    const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
    const envelope = JSON.parse(message.content.toString('utf8')) as { trace?: Record<string, string> };
    console.log(`AMQP headers: ${JSON.stringify(headers)}; envelope trace: ${JSON.stringify(envelope.trace)}`);
    expect(message.properties.messageId).toBe(ids.kept);
    const envelopeTrace = traceIdOf(envelope.trace?.traceparent);
    expect(envelopeTrace).toMatch(/^[\da-f]{32}$/);
    expect(headers.traceparent).toBeDefined(); // amqplib's instrumentation did write one: the check below means something
    expect(traceIdOf(headers.traceparent)).toBe(envelopeTrace);
    // The header names amqplib's publish span, a child of the send span the envelope names: one chain, no fork.
    const headerSpan = child.spans().find((s) => s.spanId === String(headers.traceparent).split('-')[2]);
    expect(headerSpan?.scope).toBe('@opentelemetry/instrumentation-amqplib');
    expect(headerSpan?.parentSpanId).toBe(envelope.trace?.traceparent.split('-')[2]);
  });
});
