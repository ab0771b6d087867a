/**
 * taskq on RabbitMQ with `@taskq/opentelemetry` registered in both children: a span per submit (per `submitMany` in
 * the bulk row) and per attempt, the task metrics, W3C context in every envelope, on the SDK of otel-sdk.ts.
 */
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { TaskqInstrumentation } from '@taskq/opentelemetry';
import { installOtelSdk } from './otel-sdk.js';
import { taskqAmqpDriver } from './taskq-amqp.js';
import type { Driver } from './types.js';

let registered = false;

function installTracing(): void {
  installOtelSdk();
  if (registered) return;
  registered = true;
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
