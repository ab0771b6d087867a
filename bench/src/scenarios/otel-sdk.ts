/**
 * The OpenTelemetry SDK as an application sets it up, shared by the traced rows (taskq's and BullMQ's) so that both
 * pay for the same SDK: an async-hooks context manager, the W3C propagator, a tracer provider with a batch span
 * processor, and a meter provider with a periodic reader. Every span is sampled. The span exporter takes the spans and
 * drops them, so a row's figure is the queue's and the SDK's work in the process, not an exporter's network.
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
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

/** Takes the spans and keeps nothing. */
class DroppingExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

let installed = false;

/** Registers the SDK's global providers, once per process. */
export function installOtelSdk(): void {
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
}
