/**
 * taskq on RabbitMQ with `@taskq/opentelemetry` registered in both children: a span per submit (per `submitMany` in
 * the bulk row) and per attempt, the task metrics, W3C context in every envelope, on the SDK of otel-sdk.ts. Two
 * variants show what an application's choices cost: one samples a tenth of the traces at the root, the other
 * registers the instrumentation with `tracing: false` (metrics only, no span, no trace context).
 */
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { TaskqInstrumentation } from '@taskq/opentelemetry';
import { installOtelSdk } from './otel-sdk.js';
import { taskqAmqpDriver } from './taskq-amqp.js';
import type { Driver } from './types.js';

/** The ratio of traces the sampled row keeps: a tenth, as a busy service might. */
const SAMPLE_RATIO = 0.1;

let registered = false;

function installTracing(sampleRatio: number | undefined, tracing: boolean): void {
  installOtelSdk(sampleRatio);
  if (registered) return;
  registered = true;
  registerInstrumentations({ instrumentations: [new TaskqInstrumentation({ tracing })] });
}

function tracedDriver(system: Driver['system'], sampleRatio: number | undefined, tracing: boolean): Driver {
  return {
    system,

    openProducer(queue) {
      installTracing(sampleRatio, tracing);
      return taskqAmqpDriver.openProducer(queue);
    },

    startConsumer(queue, concurrency, onCompleted) {
      installTracing(sampleRatio, tracing);
      return taskqAmqpDriver.startConsumer(queue, concurrency, onCompleted);
    },
  };
}

/** Every span sampled. */
export const taskqTracedDriver: Driver = tracedDriver('taskq-traced', undefined, true);
/** A tenth of the traces sampled at the root; the worker's spans follow the producer's decision. */
export const taskqSampledDriver: Driver = tracedDriver('taskq-sampled', SAMPLE_RATIO, true);
/** The instrumentation's metrics alone (`tracing: false`). */
export const taskqMetricsDriver: Driver = tracedDriver('taskq-metrics', undefined, false);
