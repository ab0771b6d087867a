/**
 * `@taskq/opentelemetry`: OpenTelemetry traces and metrics for taskq, from `@taskq/core`'s diagnostics channels.
 *
 * @packageDocumentation
 */
export { TaskqInstrumentation, INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION } from './instrumentation.js';
export type { TaskqInstrumentationConfig, ObserveQueuesOptions } from './config.js';
export { ATTR, METRICS } from './semconv.js';
