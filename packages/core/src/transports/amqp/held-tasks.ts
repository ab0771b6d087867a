import type { ConsumeMessage } from 'amqplib';
import { HEADER } from '../../envelope.js';
import { boundHeaders } from '../../internal/bounded-headers.js';
import type { Logger } from '../../logger.js';
import type { HeldMover } from './consumer.js';
import { messageIdOf, taskqHeaders } from './message-properties.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';

/** A burst of held tasks for one queue is logged once per this many ms, not once per task. */
const LOG_EVERY_MS = 10_000;

/**
 * What a worker does with a held task (one published while its work queue did not exist; see Topology.heldQueue):
 * declares the queue again and publishes the task to it, unchanged (id, body, headers, signature, priority), so it
 * runs as if it had never been held. A message under a routing key that names no work queue of the prefix (published
 * to the submit exchange by hand) cannot go anywhere: it is dead-lettered `unroutable` instead of circling.
 */
export function heldTaskMover(topology: Topology, publisher: Publisher, logger: Logger): HeldMover {
  const loggedAt = new Map<string, number>();
  return (message: ConsumeMessage): Promise<void> => {
    const target = message.fields.routingKey;
    const id = messageIdOf(message.properties);
    const headers = taskqHeaders(message.properties.headers);
    const priority: unknown = message.properties.priority;
    const ownPriority = typeof priority === 'number' ? priority : undefined;
    const now = Date.now();
    if (!topology.isWorkQueue(target)) {
      logger.warn('AMQP message on the submit exchange names no work queue; dead-lettered as unroutable', {
        routingKey: target,
        id,
      });
      const letter = boundHeaders({
        ...headers,
        [HEADER.reason]: 'unroutable',
        [HEADER.error]: `published to ${topology.submitExchange} under "${target}", which names no work queue`,
        [HEADER.deadAt]: new Date(now).toISOString(),
      });
      return publisher.publishRaw(topology.deadQueue, id, message.content, letter, ownPriority, undefined);
    }
    if ((loggedAt.get(target) ?? 0) + LOG_EVERY_MS <= now) {
      if (loggedAt.size > 1_000) loggedAt.clear();
      loggedAt.set(target, now);
      logger.warn('AMQP task published while its queue did not exist; declaring the queue again and moving it there', {
        queue: target,
        id,
      });
    }
    publisher.forget(target);
    return publisher.publishRaw(target, id, message.content, headers, ownPriority, undefined);
  };
}
