/**
 * taskq on RabbitMQ with a W3C trace context in every envelope and no OpenTelemetry at all: a diagnostics subscriber
 * on the submit channel writes a fixed, valid `traceparent` into the carrier, as a tracer's propagator would. The
 * envelope is then exactly as large as a traced one, so this row is the wire's part of the cost of tracing (a larger
 * message to encode, route, store and decode) and `taskq-traced` against it is the SDK's part (spans, metrics,
 * context).
 */
import { tracingChannel } from 'node:diagnostics_channel';
import { CHANNELS, type SubmitEvent } from '@taskq/core/diagnostics';
import { taskqAmqpDriver } from './taskq-amqp.js';
import type { Driver } from './types.js';

/** A valid sampled W3C traceparent (version, trace id, parent span id, flags): 55 characters, as a tracer writes. */
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let installed = false;

function carryContext(): void {
  if (installed) return;
  installed = true;
  tracingChannel<unknown, SubmitEvent>(CHANNELS.submit).subscribe({
    start(event) {
      event.carrier.traceparent = TRACEPARENT;
    },
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  });
}

export const taskqContextDriver: Driver = {
  system: 'taskq-context',

  openProducer(queue) {
    carryContext();
    return taskqAmqpDriver.openProducer(queue);
  },

  startConsumer(queue, concurrency, onCompleted) {
    return taskqAmqpDriver.startConsumer(queue, concurrency, onCompleted);
  },
};
