// Without the instrumentation (never registered, or disabled) taskq is untouched: no span, no trace context in the
// envelope, and nobody on the channels (so core skips building the events at all).
import { tracingChannel } from 'node:diagnostics_channel';
import { trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { createQueue, TaskRegistry } from '@taskq/core';
import { CHANNELS } from '@taskq/core/diagnostics';
import { TaskqInstrumentation } from '@taskq/opentelemetry';
import { afterAll, describe, expect, it } from 'vitest';
import { takeRawMessage } from '../../../test-support/rabbit.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register({
  contextManager: new AsyncLocalStorageContextManager(),
  propagator: new W3CTraceContextPropagator(),
});
const broker = testBroker('tqotel');
afterAll(async () => {
  await broker.cleanup();
  await provider.shutdown();
});

const subscribed = () => Object.values(CHANNELS).map((name) => tracingChannel(name).hasSubscribers);

async function sendWelcomeMail(_email: string): Promise<void> {}
const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);

/** Submits one task inside an active span (as a traced request would) and reads its envelope off the queue. */
async function submitAndRead(queueName: string): Promise<{ trace?: Record<string, string> }> {
  const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
  try {
    await trace.getTracer('test').startActiveSpan('request', async (span) => {
      await queue.submit(sendWelcomeMail, 'ann@example.com');
      span.end();
    });
  } finally {
    await queue.close();
  }
  const body = await takeRawMessage(queueName, broker.prefix);
  expect(body).toBeDefined();
  return JSON.parse(body as string) as { trace?: Record<string, string> };
}

const taskqSpans = () =>
  exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === '@taskq/opentelemetry');

describe('without the instrumentation', () => {
  it('never registered: no subscriber, no taskq span, no carrier in the message body', async () => {
    expect(subscribed()).toEqual([false, false, false, false]);
    const envelope = await submitAndRead(broker.queue('unregistered'));
    expect(envelope).not.toHaveProperty('trace');
    expect(taskqSpans()).toEqual([]);
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['request']); // the tracer itself works
  });

  it('registered: the four channels have subscribers and the body carries the traceparent; disabled: none again', async () => {
    const instrumentation = new TaskqInstrumentation();
    registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });
    expect(subscribed()).toEqual([true, true, true, true]);
    const traced = await submitAndRead(broker.queue('registered'));
    expect(traced.trace?.traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/);
    const send = taskqSpans().find((s) => s.name.startsWith('send '));
    expect(traced.trace?.traceparent).toBe(`00-${send?.spanContext().traceId}-${send?.spanContext().spanId}-01`);

    instrumentation.disable();
    expect(instrumentation.isEnabled()).toBe(false);
    expect(tracingChannel('taskq:process').hasSubscribers).toBe(false);
    expect(subscribed()).toEqual([false, false, false, false]);
    const before = taskqSpans().length;
    const untraced = await submitAndRead(broker.queue('disabled'));
    expect(untraced).not.toHaveProperty('trace');
    expect(taskqSpans()).toHaveLength(before);

    instrumentation.enable();
    expect(subscribed()).toEqual([true, true, true, true]);
    instrumentation.disable();
  });

  it('tracing: false keeps the metrics only: no taskq span and no carrier', async () => {
    const instrumentation = new TaskqInstrumentation({ tracing: false });
    registerInstrumentations({ instrumentations: [instrumentation], tracerProvider: provider });
    try {
      const before = taskqSpans().length;
      const envelope = await submitAndRead(broker.queue('metrics-only'));
      expect(envelope).not.toHaveProperty('trace');
      expect(taskqSpans()).toHaveLength(before);
    } finally {
      instrumentation.disable();
    }
  });
});
