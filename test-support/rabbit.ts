// The shared test broker, reached with amqplib. The names of what taskq declares come from core's own topology
// module, imported from core's src/ by path (not from the package), so core's tests (which test their own src/)
// can use these helpers too, and a change of naming in core cannot leave the cleanup deleting the wrong things.
import { randomUUID } from 'node:crypto';
import { type Channel, connect } from 'amqplib';
import { DEFAULT_PREFIX, DELAY_LEVELS, Topology } from '../packages/core/src/transports/amqp/topology.js';

export { DELAY_LEVELS };

/** The shared test broker; tests never stop it or touch queues they did not create. */
export const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Options of every test amqp transport: quick to fail when the broker is missing (tests fail, never skip or hang). */
export const TEST_AMQP_OPTIONS = { url: RABBIT_URL, connectTimeout: 10_000, publishTimeout: 15_000 } as const;

/** Core's topology names for `prefix` (queue options do not matter for names). */
export function topologyOf(prefix: string): Topology {
  return new Topology({ prefix, queueType: 'classic', deliveryLimit: 0, maxPriority: 0 });
}

/** A logical queue name no other test uses. */
export function uniqueQueue(label: string): string {
  return `test-${label}-${randomUUID().slice(0, 8)}`;
}

/**
 * Runs `fn` on a channel of a connection of its own; channel errors (a 404 of a passive declare) do not crash the test.
 */
export async function withChannel<T>(fn: (channel: Channel) => Promise<T>, url = RABBIT_URL): Promise<T> {
  const connection = await connect(url);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  } finally {
    await connection.close().catch(() => {});
  }
}

/** Deletes the physical queues behind these logical names. @defaultValue prefix `taskq` */
export async function deleteQueues(logical: readonly string[], prefix = DEFAULT_PREFIX): Promise<void> {
  if (logical.length === 0) return;
  const topology = topologyOf(prefix);
  await withChannel(async (channel) => {
    for (const name of logical) {
      await channel.deleteQueue(topology.physical(name));
      await channel.deleteQueue(topology.pausedMarker(name));
    }
  });
}

/**
 * Ready messages in a logical queue, read with a passive declare; 0 when it was never declared. @defaultValue prefix
 * `taskq`
 */
export async function queueDepth(logical: string, prefix = DEFAULT_PREFIX, url = RABBIT_URL): Promise<number> {
  try {
    return await withChannel(
      async (channel) => (await channel.checkQueue(topologyOf(prefix).physical(logical))).messageCount,
      url,
    );
  } catch (error) {
    if (String(error).includes('404')) return 0;
    throw error;
  }
}

/** Takes one raw message body off a logical queue (acked: it is gone afterwards), or undefined. */
export async function takeRawMessage(logical: string, prefix = DEFAULT_PREFIX): Promise<string | undefined> {
  return withChannel(async (channel) => {
    const message = await channel.get(topologyOf(prefix).physical(logical), { noAck: true });
    return message === false ? undefined : message.content.toString('utf8');
  });
}

/**
 * Deletes everything a prefix declared: these logical queues, the dead-letter and held queues, the delay levels, the
 * delivery, submit and control exchanges.
 */
export async function deletePrefix(
  prefix: string,
  logical: Iterable<string>,
  url = RABBIT_URL,
  rateLimits: Iterable<string> = [],
): Promise<void> {
  const topology = topologyOf(prefix);
  await withChannel(async (channel) => {
    // Rate limits: the token queue and the election (and seed state) of the limit's leader.
    for (const name of rateLimits) {
      await channel.deleteQueue(topology.rateQueue(name));
      const group = topology.leadership(topology.rateGroup(name));
      await channel.deleteQueue(group.leader);
      await channel.deleteQueue(group.state);
    }
    for (const name of logical) {
      await channel.deleteQueue(topology.physical(name));
      await channel.deleteQueue(topology.pausedMarker(name));
    }
    await channel.deleteQueue(topology.deadQueue);
    for (let level = 0; level < DELAY_LEVELS; level++) {
      await channel.deleteQueue(topology.delayQueue(level));
      await channel.deleteExchange(topology.delayExchange(level));
    }
    await channel.deleteExchange(topology.deliveryExchange);
    // Quorum prefixes: the delivery exchange's alternate exchange.
    await channel.deleteExchange(topology.unroutableExchange);
    await channel.deleteExchange(topology.controlExchange);
    // The submit exchange, its alternate exchange and the queue of held tasks.
    await channel.deleteExchange(topology.submitExchange);
    await channel.deleteExchange(topology.heldExchange);
    await channel.deleteQueue(topology.heldQueue);
    // The schedulers' leader election and its state.
    await channel.deleteQueue(`${prefix}.schedules.leader`);
    await channel.deleteQueue(`${prefix}.schedules.state`);
  }, url);
}
