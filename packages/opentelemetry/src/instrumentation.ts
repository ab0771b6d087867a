import { type TracingChannelSubscribers, tracingChannel } from 'node:diagnostics_channel';
import { InstrumentationBase } from '@opentelemetry/instrumentation';
import { InvalidOptionError, type Transport } from '@taskq/core';
import {
  CHANNELS,
  type ProcessEvent,
  type PublishEvent,
  type ReceiveEvent,
  type SubmitEvent,
} from '@taskq/core/diagnostics';
import {
  type ObserveQueuesOptions,
  resolveConfig,
  resolveObserveOptions,
  type TaskqInstrumentationConfig,
} from './config.js';
import { TaskMetrics } from './internal/metrics.js';
import { QueueGauges } from './internal/queue-gauges.js';
import { endProcess, endProducer, startProcess, startPublish, startSubmit } from './internal/tracing.js';

/** The instrumentation's name (its tracer's and meter's scope). */
export const INSTRUMENTATION_NAME = '@taskq/opentelemetry';
/** The instrumentation's version (its tracer's and meter's scope version). */
export const INSTRUMENTATION_VERSION = '0.1.0';

/** Handlers of one tracing channel's events, each optional. */
type Handlers<E> = Partial<Record<'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error', (event: E) => void>>;

/**
 * OpenTelemetry instrumentation of taskq: spans and metrics from `@taskq/core`'s diagnostics channels. Register it
 * like any other (`registerInstrumentations({ instrumentations: [new TaskqInstrumentation()] })`); it patches no
 * module: `enable()` subscribes to the channels and `disable()` unsubscribes, after which taskq pays nothing.
 * See docs/observability.md.
 */
export class TaskqInstrumentation extends InstrumentationBase<TaskqInstrumentationConfig> {
  #metrics: TaskMetrics | undefined;
  readonly #gauges: QueueGauges;
  #subscriptions: Array<() => void> = [];

  constructor(config: TaskqInstrumentationConfig = {}) {
    // The base class enables in its constructor, before this class's fields exist: it is enabled below instead.
    super(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION, { ...resolveConfig(config), enabled: false });
    this.setConfig(config);
    this.#gauges = new QueueGauges(this._diag);
    this._updateMetricInstruments();
    if (this.getConfig().enabled) this.enable();
  }

  /** Checks the options; takes effect at the next `enable()` (or at once for a new meter or tracer provider). */
  override setConfig(config: TaskqInstrumentationConfig = {}): void {
    super.setConfig(resolveConfig(config));
  }

  /** No module to patch: taskq reports through `node:diagnostics_channel`. */
  protected override init(): void {}

  /** Makes the instruments on the current meter (at construction and after `setMeterProvider`). */
  protected override _updateMetricInstruments(): void {
    // Called by the base constructor too, before the private fields exist.
    if (!(#gauges in this)) return;
    this.#metrics = this.getConfig().metrics === false ? undefined : new TaskMetrics(this.meter);
    this.#gauges.register(this.meter);
  }

  /** Subscribes to taskq's diagnostics channels (idempotent). */
  override enable(): void {
    super.enable();
    if (this.#subscriptions.length > 0) return;
    const { tracing: traced, metrics: measured } = this.getConfig();
    const tracing = traced !== false;
    if (measured === false) this.#metrics = undefined;
    else this.#metrics ??= new TaskMetrics(this.meter);
    this.#subscribe<SubmitEvent>(CHANNELS.submit, {
      start: (event) => {
        if (tracing) startSubmit(this.tracer, event);
      },
      end: (event) => {
        // A submit that threw before it returned its promise has no asyncEnd.
        if (event.error !== undefined) endProducer(event);
      },
      asyncEnd: (event) => {
        endProducer(event);
        this.#metrics?.submitted(event);
      },
    });
    this.#subscribe<PublishEvent>(CHANNELS.publish, {
      start: (event) => {
        if (tracing) startPublish(this.tracer, event);
      },
      end: (event) => {
        if (event.error !== undefined) endProducer(event);
      },
      asyncEnd: (event) => {
        endProducer(event);
        this.#metrics?.published(event);
      },
    });
    this.#subscribe<ProcessEvent>(CHANNELS.process, {
      start: (event) => {
        if (tracing) startProcess(this.tracer, event);
        this.#metrics?.started(event);
      },
      asyncEnd: (event) => {
        endProcess(event);
        this.#metrics?.ended(event);
      },
    });
    // Only the metrics read what a worker decided about a message: without them, taskq builds no receive event.
    if (this.#metrics)
      this.#subscribe<ReceiveEvent>(CHANNELS.receive, {
        end: (event) => this.#metrics?.received(event),
      });
  }

  /** Unsubscribes from every channel: taskq then builds no event at all. */
  override disable(): void {
    super.disable();
    for (const unsubscribe of this.#subscriptions.splice(0)) unsubscribe();
  }

  /**
   * Reports the depth and consumers of `queues` and the dead-letter count of `transport` as the gauges
   * `taskq.queue.depth`, `taskq.queue.consumers` and `taskq.dead_letters`, read from the broker when a metric reader
   * collects, at most once per `interval`. Returns the function that stops it (call it before closing the transport).
   */
  observeQueues(transport: Transport, options: ObserveQueuesOptions): () => void {
    if (typeof transport !== 'object' || transport === null || typeof transport.dead?.count !== 'function')
      throw new InvalidOptionError('transport', 'expected a taskq transport (amqp() or memory())');
    const { queues, intervalMs } = resolveObserveOptions(options);
    return this.#gauges.add(transport, queues, intervalMs);
  }

  /**
   * Subscribes one channel; a handler never throws into taskq (a diagnostics subscriber's exception would surface as
   * an uncaught exception in the application).
   */
  #subscribe<E>(name: string, handlers: Handlers<E>): void {
    const guarded: Record<string, (message: unknown) => void> = {};
    for (const [key, handler] of Object.entries(handlers) as Array<[string, (event: E) => void]>) {
      guarded[key] = (message) => {
        try {
          handler(message as E);
        } catch (error) {
          this._diag.error(`handling ${name} ${key} failed`, error);
        }
      };
    }
    const channel = tracingChannel(name);
    // Node subscribes only the handlers given (its typings ask for all five): no cost on the events left out.
    const subscribers = guarded as unknown as TracingChannelSubscribers<object>;
    channel.subscribe(subscribers);
    this.#subscriptions.push(() => channel.unsubscribe(subscribers));
  }
}
