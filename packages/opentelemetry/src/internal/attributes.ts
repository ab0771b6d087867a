import type { Attributes } from '@opentelemetry/api';
import type { TaskDescription, TransportDescription } from '@taskq/core/diagnostics';
import { ATTR } from '../semconv.js';

/** `messaging.system`: RabbitMQ for the amqp transport, `taskq_memory` for the in-process one, else its own kind. */
export function messagingSystem(transport: TransportDescription): string {
  if (transport.kind === 'amqp') return 'rabbitmq';
  if (transport.kind === 'memory') return 'taskq_memory';
  return transport.kind;
}

/** Where a task goes, as a span says it. */
export function destinationAttributes(
  transport: TransportDescription,
  task: Pick<TaskDescription, 'queue' | 'destination'>,
): Attributes {
  const attributes: Attributes = {
    [ATTR.messagingSystem]: messagingSystem(transport),
    [ATTR.messagingDestinationName]: task.destination,
    [ATTR.queue]: task.queue,
  };
  if (transport.kind === 'amqp') attributes[ATTR.rabbitmqRoutingKey] = task.destination;
  return attributes;
}

/** What a metric series says of a queue: its name and the transport's (a few keys: the SDK hashes them per record). */
export function metricAttributes(task: Pick<TaskDescription, 'queue' | 'destination'>): Attributes {
  return { [ATTR.messagingDestinationName]: task.destination, [ATTR.queue]: task.queue };
}

/** `error.type`: the error's string `code` (taskq's and most Node errors have one), else its class name. */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const name = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name !== '' && name !== 'Object') return name;
  }
  return '_OTHER';
}

/** The one queue every task goes to, or undefined when they go to several (a unit of work's commit may mix them). */
export function commonQueue<T extends Pick<TaskDescription, 'queue' | 'destination'>>(
  tasks: readonly T[],
): T | undefined {
  const first = tasks[0];
  if (!first) return undefined;
  for (const task of tasks) if (task.destination !== first.destination) return undefined;
  return first;
}
