// One process's OpenTelemetry for a test file: spans in memory, metrics collected on demand, the taskq
// instrumentation registered on both (plus any other instrumentation the test adds).
import { type Attributes, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { TaskqInstrumentation, type TaskqInstrumentationConfig } from '@taskq/opentelemetry';

/** A reader the test collects from when it wants (no timer). */
export class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A span as the tests compare them, from this process (ReadableSpan) or a child (a JSON line). */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** SpanKind name: SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL. */
  readonly kind: string;
  readonly attributes: Attributes;
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
  /** UNSET, OK or ERROR. */
  readonly status: string;
  readonly events: readonly string[];
  /** The instrumentation scope that made it (`@taskq/opentelemetry`, `@opentelemetry/instrumentation-http`...). */
  readonly scope: string;
}

export function toRecord(span: ReadableSpan): SpanRecord {
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    name: span.name,
    kind: SpanKind[span.kind],
    attributes: span.attributes,
    links: span.links.map((link) => ({ traceId: link.context.traceId, spanId: link.context.spanId })),
    status: SpanStatusCode[span.status.code],
    events: span.events.map((event) => event.name),
    scope: span.instrumentationScope.name,
  };
}

/** Spans a child process printed, one JSON line each after `SPAN ` (see fixtures/telemetry.cjs). */
export function spansOfOutput(output: string): SpanRecord[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('SPAN '))
    .map((line) => JSON.parse(line.slice(5)) as SpanRecord);
}

export interface Telemetry {
  readonly instrumentation: TaskqInstrumentation;
  readonly exporter: InMemorySpanExporter;
  readonly reader: CollectingReader;
  readonly meterProvider: MeterProvider;
  /** Every span ended so far. */
  spans(): SpanRecord[];
  /** Collects the metrics now. */
  collect(): Promise<ResourceMetrics>;
  shutdown(): Promise<void>;
}

/**
 * Registers a tracer provider (AsyncLocalStorage context manager, W3C trace context) and a meter provider globally,
 * with the taskq instrumentation and `others`.
 */
export function setupTelemetry(
  options: { config?: TaskqInstrumentationConfig; others?: Instrumentation[]; readers?: MetricReader[] } = {},
): Telemetry {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  tracerProvider.register({
    contextManager: new AsyncLocalStorageContextManager(),
    propagator: new W3CTraceContextPropagator(),
  });
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader, ...(options.readers ?? [])] });
  const instrumentation = new TaskqInstrumentation(options.config);
  registerInstrumentations({
    instrumentations: [instrumentation, ...(options.others ?? [])],
    tracerProvider,
    meterProvider,
  });
  return {
    instrumentation,
    exporter,
    reader,
    meterProvider,
    spans: () => exporter.getFinishedSpans().map(toRecord),
    collect: async () => (await reader.collect()).resourceMetrics,
    shutdown: async () => {
      instrumentation.disable();
      for (const other of options.others ?? []) other.disable();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/** The data points of one metric (every scope), or [] when it has none. */
export function points(metrics: ResourceMetrics, name: string): DataPoint<number | Histogram>[] {
  const found: DataPoint<number | Histogram>[] = [];
  for (const scope of metrics.scopeMetrics)
    for (const metric of scope.metrics)
      if (metric.descriptor.name === name) found.push(...(metric.dataPoints as DataPoint<number | Histogram>[]));
  return found;
}

/** Sum of a counter's (or gauge's) points whose attributes include `match`. */
export function sumOf(metrics: ResourceMetrics, name: string, match: Attributes = {}): number {
  let total = 0;
  for (const point of points(metrics, name)) {
    if (!Object.entries(match).every(([key, value]) => point.attributes[key] === value)) continue;
    total += typeof point.value === 'number' ? point.value : point.value.count;
  }
  return total;
}
