/**
 * taskq on RabbitMQ with `@taskq/opentelemetry` registered in both children: a span per submit and per attempt
 * (always sampled), the task metrics, W3C context in every envelope. The SDK is set up as an application would (batch
 * span processor, async-hooks context manager, W3C propagator, a meter provider with a reader); its exporter takes
 * the spans and drops them, so the figure is taskq's and the SDK's work in the process, not an exporter's network.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { TaskqInstrumentation } from '@taskq/opentelemetry';
import { taskqAmqpDriver } from './taskq-amqp.js';
import type { Driver } from './types.js';

/** Takes the spans, counts them, keeps nothing. */
class DroppingExporter implements SpanExporter {
  exported = 0;
  export(spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

let installed = false;

function installTracing(): void {
  if (installed) return;
  installed = true;
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      spanProcessors: [
        new BatchSpanProcessor(new DroppingExporter(), { maxQueueSize: 16_384, maxExportBatchSize: 512 }),
      ],
    }),
  );
  metrics.setGlobalMeterProvider(
    new MeterProvider({
      readers: [
        new PeriodicExportingMetricReader({
          exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
          exportIntervalMillis: 10_000,
        }),
      ],
    }),
  );
  registerInstrumentations({ instrumentations: [new TaskqInstrumentation()] });
}

export const taskqTracedDriver: Driver = {
  system: 'taskq-traced',

  openProducer(queue) {
    installTracing();
    return taskqAmqpDriver.openProducer(queue);
  },

  startConsumer(queue, concurrency, onCompleted) {
    installTracing();
    return taskqAmqpDriver.startConsumer(queue, concurrency, onCompleted);
  },
};
