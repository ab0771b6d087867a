import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import type { ProcessEvent, PublishEvent, ReceiveEvent, SubmitEvent } from '@taskq/core/diagnostics';
import { ATTR, METRICS } from '../semconv.js';
import { metricAttributes } from './attributes.js';

/** Buckets in seconds: from a quick task (5 ms) to a long one (10 min); the API's default ones are for milliseconds. */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** An attempt under way keeps, on its event, the series its end counts in (a property: no ephemeron per task). */
const SERIES: unique symbol = Symbol('taskq.opentelemetry.series');
type Counted = ProcessEvent & { [SERIES]?: Series | undefined };

/** One task series (queue × task name): its attributes, made once, and the attempts running in it now. */
interface Series {
  readonly attributes: Attributes;
  /** `attributes` plus each outcome, made once each. */
  readonly byOutcome: Map<string, Attributes>;
  /** `attributes` plus each dead-letter reason, made once each. */
  readonly byReason: Map<string, Attributes>;
  running: number;
}

/**
 * A monotonic count per attribute set, reported by an observable counter at collection. The attribute objects are
 * the series' own (made once), so a count is one Map update by identity: the SDK's synchronous counters hash the
 * attributes on every add, which cost more than everything else taskq does per task.
 */
class Tally {
  readonly #counts = new Map<Attributes, number>();

  constructor(meter: Meter, name: string, description: string, unit: string) {
    meter.createObservableCounter(name, { description, unit }).addCallback((result) => {
      for (const [attributes, count] of this.#counts) result.observe(count, attributes);
    });
  }

  add(count: number, attributes: Attributes): void {
    this.#counts.set(attributes, (this.#counts.get(attributes) ?? 0) + count);
  }
}

/**
 * The task instruments of one meter. Attributes are the queue, the task name and the outcome, never a task id or an
 * argument: every value is bounded by the registry and the queues. Attribute objects are made once per series;
 * counts and the running count are kept here and observed at collection: per attempt, the cost is two histogram
 * records (queue wait, duration).
 */
export class TaskMetrics {
  readonly #submitted: Tally;
  readonly #completed: Tally;
  readonly #failed: Tally;
  readonly #retried: Tally;
  readonly #deadLettered: Tally;
  readonly #cancelled: Tally;
  readonly #duration: Histogram;
  readonly #queueWait: Histogram;
  /** Series by destination, then queue, then task name (undefined for refused messages). */
  readonly #series = new Map<string, Map<string, Map<string | undefined, Series>>>();

  constructor(meter: Meter) {
    this.#submitted = new Tally(
      meter,
      METRICS.submitted,
      'Tasks handed to the broker and confirmed (a submit, a unit of work commit, the outbox relay)',
      '{task}',
    );
    this.#completed = new Tally(meter, METRICS.completed, 'Attempts that completed (the task returned)', '{task}');
    this.#failed = new Tally(
      meter,
      METRICS.failed,
      'Attempts that failed (every failed attempt, retried or not; cancellations excluded)',
      '{attempt}',
    );
    this.#retried = new Tally(meter, METRICS.retried, 'Failed attempts whose next attempt was scheduled', '{attempt}');
    this.#deadLettered = new Tally(
      meter,
      METRICS.deadLettered,
      'Messages dead-lettered by a worker: attempts exhausted, non-retryable, malformed, unknown task...',
      '{task}',
    );
    this.#cancelled = new Tally(meter, METRICS.cancelled, 'Attempts cancelled while they ran', '{task}');
    this.#duration = meter.createHistogram(METRICS.duration, {
      description: 'Time the task (its middleware and function) ran, per attempt',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    this.#queueWait = meter.createHistogram(METRICS.queueWait, {
      description: 'Time from when an attempt could run (submit plus delay, or its retry due time) until it started',
      unit: 's',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    meter
      .createObservableUpDownCounter(METRICS.running, {
        description: 'Attempts running now in this process',
        unit: '{task}',
      })
      .addCallback((result) => {
        for (const byQueue of this.#series.values())
          for (const byName of byQueue.values())
            for (const series of byName.values())
              if (series.attributes[ATTR.taskName] !== undefined) result.observe(series.running, series.attributes);
      });
  }

  /** A direct submit confirmed: its tasks were published. A deferred one counts at its publish. */
  submitted(event: SubmitEvent): void {
    if (event.deferred || event.error !== undefined) return;
    const task = event.tasks[0];
    if (!task) return;
    this.#submitted.add(event.tasks.length, this.#of(task).attributes);
  }

  published(event: PublishEvent): void {
    if (event.error !== undefined) return;
    for (const task of event.tasks) this.#submitted.add(1, this.#of(task).attributes);
  }

  started(event: ProcessEvent): void {
    const series = this.#of(event.task);
    (event as Counted)[SERIES] = series;
    series.running++;
    this.#queueWait.record(Math.max(0, Date.now() - event.task.dueAt) / 1000, series.attributes);
  }

  ended(event: ProcessEvent): void {
    const series = (event as Counted)[SERIES];
    if (!series) return;
    (event as Counted)[SERIES] = undefined;
    series.running--;
    const outcome = event.outcome;
    if (!outcome) return;
    const { attributes } = series;
    if (event.durationMs !== undefined)
      this.#duration.record(
        event.durationMs / 1000,
        variant(series.byOutcome, series.attributes, ATTR.outcome, outcome),
      );
    if (outcome === 'completed') this.#completed.add(1, attributes);
    else if (outcome === 'cancelled') this.#cancelled.add(1, attributes);
    else if (event.error !== undefined) this.#failed.add(1, attributes);
    if (outcome === 'retried') this.#retried.add(1, attributes);
    if (outcome === 'dead')
      this.#deadLettered.add(
        1,
        variant(series.byReason, series.attributes, ATTR.deadLetterReason, event.reason ?? 'unknown'),
      );
  }

  /** A message refused before it could run (malformed, bad signature, unknown task...): dead-lettered. */
  received(event: ReceiveEvent): void {
    if (event.verdict !== 'dead') return;
    // No task name: a refused message's name is unverified (unknown, unsigned) and would be an unbounded label.
    const series = this.#of({ queue: event.queue, destination: event.destination, name: undefined });
    this.#deadLettered.add(
      1,
      variant(series.byReason, series.attributes, ATTR.deadLetterReason, event.reason ?? 'unknown'),
    );
  }

  #of(task: { queue: string; destination: string; name: string | undefined }): Series {
    // Looked up per attempt: nested maps by identity of the strings, so that finding a series builds no key.
    let byQueue = this.#series.get(task.destination);
    if (!byQueue) {
      byQueue = new Map();
      this.#series.set(task.destination, byQueue);
    }
    let byName = byQueue.get(task.queue);
    if (!byName) {
      byName = new Map();
      byQueue.set(task.queue, byName);
    }
    let series = byName.get(task.name);
    if (!series) {
      const attributes: Attributes = metricAttributes(task);
      if (task.name !== undefined) attributes[ATTR.taskName] = task.name;
      series = { attributes, byOutcome: new Map(), byReason: new Map(), running: 0 };
      byName.set(task.name, series);
    }
    return series;
  }
}

/** `base` plus `key: value`, made once per value and kept in `made`. */
function variant(made: Map<string, Attributes>, base: Attributes, key: string, value: string): Attributes {
  let attributes = made.get(value);
  if (!attributes) {
    attributes = { ...base, [key]: value };
    made.set(value, attributes);
  }
  return attributes;
}
