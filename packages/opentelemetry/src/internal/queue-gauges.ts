import type { Attributes, BatchObservableResult, DiagLogger, Meter, Observable } from '@opentelemetry/api';
import type { Transport } from '@taskq/core';
import { ATTR, METRICS } from '../semconv.js';
import { metricAttributes } from './attributes.js';

/** What one `observeQueues()` call reads, and what it read last. */
interface Source {
  readonly transport: Transport;
  readonly queues: readonly string[];
  readonly intervalMs: number;
  snapshot: Snapshot | undefined;
  pending: Promise<Snapshot> | undefined;
}

/** One read of the broker; a value that could not be read is absent (a gauge without a fresh value says nothing). */
interface Snapshot {
  readonly at: number;
  readonly queues: ReadonlyMap<string, { readonly depth: number; readonly consumers: number }>;
  readonly deadLetters: number | undefined;
}

/**
 * The broker gauges (queue depth, consumers, dead letters). A scrape reads the broker only when the last read is
 * older than the source's interval, and never twice at once: many scrapers, or a short scrape interval, cost the
 * broker one read per interval at most.
 */
export class QueueGauges {
  readonly #sources = new Set<Source>();
  readonly #diag: DiagLogger;
  #registered:
    | { meter: Meter; observables: Observable[]; callback: (result: BatchObservableResult) => Promise<void> }
    | undefined;

  constructor(diag: DiagLogger) {
    this.#diag = diag;
  }

  /** Creates the gauges on `meter` (again after a meter provider change, leaving the old meter's ones). */
  register(meter: Meter): void {
    if (this.#registered) {
      const { meter: old, observables, callback } = this.#registered;
      old.removeBatchObservableCallback(callback, observables);
    }
    const depth = meter.createObservableGauge(METRICS.queueDepth, {
      description: 'Messages ready in the queue (not yet delivered to a worker), read from the broker',
      unit: '{message}',
    });
    const consumers = meter.createObservableGauge(METRICS.queueConsumers, {
      description: 'Workers consuming the queue (paused ones excluded), read from the broker',
      unit: '{consumer}',
    });
    const deadLetters = meter.createObservableGauge(METRICS.deadLetters, {
      description: "Messages in the prefix's dead-letter queue, read from the broker",
      unit: '{message}',
    });
    const callback = async (result: BatchObservableResult): Promise<void> => {
      const reads = [...this.#sources].map(async (source) => ({ source, snapshot: await this.#read(source) }));
      for (const { source, snapshot } of await Promise.all(reads)) {
        const { transport } = source;
        for (const [queue, info] of snapshot.queues) {
          const attributes = metricAttributes({ queue, destination: transport.destination?.(queue) ?? queue });
          result.observe(depth, info.depth, attributes);
          result.observe(consumers, info.consumers, attributes);
        }
        if (snapshot.deadLetters !== undefined) {
          const attributes: Attributes = { [ATTR.prefix]: transport.prefix ?? transport.kind };
          result.observe(deadLetters, snapshot.deadLetters, attributes);
        }
      }
    };
    meter.addBatchObservableCallback(callback, [depth, consumers, deadLetters]);
    this.#registered = { meter, observables: [depth, consumers, deadLetters], callback };
  }

  add(transport: Transport, queues: readonly string[], intervalMs: number): () => void {
    const source: Source = { transport, queues, intervalMs, snapshot: undefined, pending: undefined };
    this.#sources.add(source);
    return () => {
      this.#sources.delete(source);
    };
  }

  #read(source: Source): Promise<Snapshot> {
    const { snapshot } = source;
    if (snapshot && Date.now() - snapshot.at < source.intervalMs) return Promise.resolve(snapshot);
    source.pending ??= this.#fetch(source).then((fresh) => {
      source.snapshot = fresh;
      source.pending = undefined;
      return fresh;
    });
    return source.pending;
  }

  async #fetch(source: Source): Promise<Snapshot> {
    const at = Date.now();
    const { transport } = source;
    const control = transport.control;
    const [infos, dead] = await Promise.all([
      Promise.allSettled(
        source.queues.map((queue) =>
          control ? control.queueInfo(queue) : Promise.reject(new Error('no control plane')),
        ),
      ),
      transport.dead.count().then(
        (count) => count,
        (error: unknown) => {
          this.#diag.warn('reading the dead-letter count failed', error);
          return undefined;
        },
      ),
    ]);
    const queues = new Map<string, { depth: number; consumers: number }>();
    infos.forEach((info, i) => {
      if (info.status === 'fulfilled') queues.set(source.queues[i], info.value);
      else this.#diag.warn(`reading queue "${source.queues[i]}" failed`, info.reason);
    });
    return { at, queues, deadLetters: dead };
  }
}
