// Started by `taskq worker dist/worker.js`: a CommonJS build exports it as `exports.default`.
import { amqp, createWorker } from '@taskq/core';
import { registry } from './tasks.js';

const worker = createWorker({
  registry,
  transport: amqp({ url: process.env.TASKQ_URL ?? 'amqp://127.0.0.1:5672', prefix: process.env.TASKQ_PREFIX }),
  queues: [process.env.CONSUMER_QUEUE ?? 'default'],
});
// Any promise is a lifecycle hook, whatever it resolves to.
worker.onStartup(() => Promise.resolve(42));

export default worker;
