/**
 * The OpenTelemetry SDK as an application sets it up, shared by the traced rows (taskq's and BullMQ's) so that both
 * pay for the same SDK: an async-hooks context manager, the W3C propagator, a tracer provider with a batch span
 * processor, and a meter provider with a periodic reader. Every span is sampled unless a ratio is given (the sampled
 * row: a parent-based sampler with that ratio at the root, as a busy service samples). The span exporter takes the
 * spans and drops them, so a row's figure is the queue's and the SDK's work in the process, not an exporter's network.
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
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';

/** Takes the spans and keeps nothing. */
class DroppingExporter implements SpanExporter {
  export(_spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void): void {
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

let installed = false;

/**
 * Registers the SDK's global providers, once per process. With `sampleRatio`, a root span (a submit with no request
 * around it) is sampled at that ratio and every other span follows its parent's decision, which the trace context in
 * the envelope carries to the worker.
 */
export function installOtelSdk(sampleRatio?: number): void {
  if (installed) return;
  installed = true;
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({
      ...(sampleRatio === undefined
        ? {}
        : { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampleRatio) }) }),
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
