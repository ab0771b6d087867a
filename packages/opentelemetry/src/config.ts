import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import { InvalidOptionError } from '@taskq/core';
import { parseDuration } from '@taskq/core/adapter';

/** Options of {@link TaskqInstrumentation}. */
export interface TaskqInstrumentationConfig extends InstrumentationConfig {
  /**
   * Spans for submit, publish and each attempt, and trace context in every envelope. `false` keeps the metrics only:
   * no span, and envelopes carry no trace context.
   * @defaultValue true
   */
  tracing?: boolean;
  /**
   * The task counters and histograms (`taskq.tasks.*`, `taskq.task.*`). The broker gauges of
   * {@link TaskqInstrumentation.observeQueues} are there either way.
   * @defaultValue true
   */
  metrics?: boolean;
}

/** Options of {@link TaskqInstrumentation.observeQueues}. */
export interface ObserveQueuesOptions {
  /** Logical queues whose depth and consumers to report. */
  readonly queues: readonly string[];
  /**
   * Least time between two reads of the broker (`'15s'`, `'1m'` or milliseconds; at least 1 s): a scrape inside it is
   * answered with the last read.
   * @defaultValue '15s'
   */
  readonly interval?: number | string;
}

const BOOLEAN_OPTIONS = ['enabled', 'tracing', 'metrics'] as const;

/** @internal Checks the options once, naming the option and the bad value. */
export function resolveConfig(config: TaskqInstrumentationConfig | undefined): TaskqInstrumentationConfig {
  if (config === undefined) return {};
  if (typeof config !== 'object' || config === null || Array.isArray(config))
    throw new InvalidOptionError('TaskqInstrumentation', `expected an options object, got ${String(config)}`);
  for (const name of BOOLEAN_OPTIONS) {
    const value = config[name];
    if (value !== undefined && typeof value !== 'boolean')
      throw new InvalidOptionError(name, `expected true or false, got ${JSON.stringify(value)}`);
  }
  return { ...config };
}

/** @internal */
export const MIN_OBSERVE_INTERVAL_MS = 1_000;

/** @internal */
export function resolveObserveOptions(options: ObserveQueuesOptions): { queues: string[]; intervalMs: number } {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('observeQueues', `expected { queues, interval? }, got ${String(options)}`);
  const { queues, interval = '15s' } = options;
  if (!Array.isArray(queues) || queues.length === 0 || queues.some((q) => typeof q !== 'string' || q === ''))
    throw new InvalidOptionError('queues', `expected a non-empty array of queue names, got ${JSON.stringify(queues)}`);
  const intervalMs = parseDuration(interval, 'interval');
  if (intervalMs < MIN_OBSERVE_INTERVAL_MS)
    throw new InvalidOptionError(
      'interval',
      `expected at least 1s (the broker is read at most once per interval), got ${JSON.stringify(interval)}`,
    );
  return { queues: [...new Set(queues)], intervalMs };
}
