import { createHash } from 'node:crypto';
import type { Channel, ChannelModel, Options } from 'amqplib';
import { DELAY_LEVELS, DELAY_TICK_MS, isPartition, MAX_DELAY_MS } from '../../task-options.js';

/** The prefix of everything an amqp transport declares when it is given none. */
export const DEFAULT_PREFIX = 'taskq';

/** Queue flavour: classic (single node) or quorum (replicated, for clusters). */
export type QueueType = 'classic' | 'quorum';

export interface TopologyOptions {
  readonly prefix: string;
  readonly queueType: QueueType;
  /** Quorum queues: deliveries before a message is dropped as poison (x-delivery-limit). */
  readonly deliveryLimit: number;
  /** Classic queues: x-max-priority, 0 for none. */
  readonly maxPriority: number;
}

/**
 * Plugin-free delays: level N is a queue whose messages all live 2^N ticks
 * (fixed TTL, so the head always expires first and nothing blocks) and then
 * dead-letter to level N-1. A delay is written in binary into the routing
 * key, one word per level; each level's topic exchange sends the message
 * into its queue when that bit is 1 and on to the next level when it is 0.
 * Level 0 hands it to the delivery exchange, which routes by the target
 * queue's name. Exact to one tick, whatever order delays were submitted in.
 */
// The ladder's size is defined with the other limits in task-options.ts: submit refuses what it cannot hold.
export { DELAY_LEVELS, DELAY_TICK_MS, MAX_DELAY_MS };

/** The two queues of a leadership group, with the arguments they are declared with. */
export interface LeadershipQueues {
  /** `<prefix>.<group>.leader`: single active consumer; holds the token. */
  readonly leader: string;
  /** `<prefix>.<group>.state`: the last state written, kept as the only message. */
  readonly state: string;
  readonly leaderOptions: Options.AssertQueue;
  readonly stateOptions: Options.AssertQueue;
}

/** Physical names kept per topology: a process publishes to a handful of queues (key partitions add a few hundred). */
const MAX_KEPT_NAMES = 4_096;

export class Topology {
  readonly options: TopologyOptions;
  readonly deadQueue: string;
  readonly deliveryExchange: string;
  /**
   * Quorum: the delivery exchange's alternate exchange, bound to the dead-letter queue. A delayed task whose work queue
   * is gone (deleted while the task waited in the ladder) lands there instead of going round forever: at-least-once
   * dead-lettering keeps a hop it cannot route and retries it, and 32 such hops stall their whole delay level.
   */
  readonly unroutableExchange: string;
  /** Announcements between the workers of the prefix (who consumes what). */
  readonly controlExchange: string;
  /**
   * Where a task for a work queue is published: a direct exchange, every work queue bound under its own name. Not the
   * default exchange with `mandatory`: that flag costs the broker 5–7 µs per message, and this exchange's alternate
   * exchange catches the rare message no queue took (its queue deleted) without a return.
   */
  readonly submitExchange: string;
  /** The submit exchange's alternate exchange (fanout), bound to {@link heldQueue}. */
  readonly heldExchange: string;
  /**
   * Tasks whose work queue did not exist when they were published. Every worker consumes it, declares the queue again
   * and publishes the task to it; until one runs, the tasks wait here.
   */
  readonly heldQueue: string;
  readonly #physical = new Map<string, string>();
  readonly #workPrefix: string;

  constructor(options: TopologyOptions) {
    this.options = options;
    this.deadQueue = `${options.prefix}.dead`;
    this.deliveryExchange = `${options.prefix}.delivery`;
    this.unroutableExchange = `${options.prefix}.unroutable`;
    this.controlExchange = `${options.prefix}.control`;
    this.submitExchange = `${options.prefix}.submit`;
    this.heldExchange = `${options.prefix}.held`;
    this.heldQueue = `${options.prefix}.held`;
    this.#workPrefix = `${options.prefix}.q.`;
  }

  /** A work queue's physical name (what the submit exchange routes), as opposed to the dead-letter or a token queue. */
  isWorkQueue(physical: string): boolean {
    return physical.startsWith(this.#workPrefix);
  }

  /**
   * The held queue: no delivery limit (a held task is only ever handed back by a closing channel), nowhere to
   * dead-letter to.
   */
  heldQueueOptions(): Options.AssertQueue {
    return this.#durable();
  }

  /** A worker's own queue of announcements: exclusive and auto-deleted, gone with its consumer. */
  presenceQueue(instance: string): string {
    return `${this.options.prefix}.presence.${instance}`;
  }

  /** Durable, always empty queue whose existence says the logical queue is paused. */
  pausedMarker(queue: string): string {
    return `${this.options.prefix}.paused.${queue}`;
  }

  /**
   * The election queue of a leadership group (`<prefix>.<group>.leader`) and the queue of its state, with their
   * arguments. No delivery limit on either: the token is handed back (channel close, nack) every time a leader goes,
   * and the state is read by taking it and putting it back, so both are returned again and again by design.
   */
  leadership(group: string): LeadershipQueues {
    const oneMessage = { 'x-max-length': 1, 'x-overflow': 'drop-head' };
    return {
      leader: `${this.options.prefix}.${group}.leader`,
      state: `${this.options.prefix}.${group}.state`,
      leaderOptions: this.#durable({ 'x-single-active-consumer': true, ...oneMessage }),
      stateOptions: this.#durable({ ...oneMessage }),
    };
  }

  /**
   * A durable queue with `args`, of the prefix's queue type. Every durable queue taskq declares goes through here, so
   * `queueType: 'quorum'` replicates all of them (a classic queue lives on one node: the node's loss takes it, and
   * what it held, away until the node is back). Only the queues that die with their connection stay classic: a
   * worker's presence queue and a listener's heartbeat queue are exclusive (and server-named or auto-deleted), which
   * quorum queues cannot be, and they hold nothing worth replicating.
   */
  #durable(args: Record<string, unknown> = {}): Options.AssertQueue {
    if (this.options.queueType === 'quorum') args['x-queue-type'] = 'quorum';
    return { durable: true, arguments: args };
  }

  /**
   * The dead-letter queue: no delivery limit (listing letters takes them and puts them back) and nowhere further to
   * dead-letter to.
   */
  deadQueueOptions(): Options.AssertQueue {
    return this.#durable();
  }

  /** A paused marker: never holds a message, only its existence counts. Quorum too, so a node's loss cannot hide it. */
  pausedMarkerOptions(): Options.AssertQueue {
    return this.#durable({ 'x-max-length': 0 });
  }

  /**
   * The token queue of a rate limit. Quorum: no delivery limit and no dead-lettering, since tokens circulate by being
   * handed back (nack, channel close) to whichever worker waits; a limit would count those returns and move tokens
   * into the dead-letter queue, shrinking the limit. Classic: as before, the work queue's arguments.
   */
  rateQueueOptions(physical: string): Options.AssertQueue {
    if (this.options.queueType === 'quorum') return this.#durable();
    return this.workQueueOptions(physical);
  }

  /**
   * The arguments of a queue the publisher declares before its first publish to it (a work queue, a rate limit's
   * token queue), told apart by name: a declare with other arguments than the consumer's is refused (406).
   */
  publishTargetOptions(physical: string): Options.AssertQueue {
    if (physical.startsWith(`${this.options.prefix}.rate.`)) return this.rateQueueOptions(physical);
    return this.workQueueOptions(physical);
  }

  /**
   * Level `level` of the delay ladder: every message lives 2^level ticks, then is dead-lettered to the level below.
   * Quorum: at-least-once dead-lettering, so a delayed task is handed to the next level with the broker's own
   * confirms and kept until the next queue has it (at-most-once, the default, drops it when that queue's leader is
   * moving: 18 of 200 delayed tasks never ran when the node leading the ladder was killed). It needs `reject-publish`
   * overflow; the ladder has no length limit anyway.
   */
  delayQueueOptions(level: number): Options.AssertQueue {
    const next = level === 0 ? this.deliveryExchange : this.delayExchange(level - 1);
    const args: Record<string, unknown> = {
      'x-message-ttl': 2 ** level * DELAY_TICK_MS,
      'x-dead-letter-exchange': next,
    };
    if (this.options.queueType === 'quorum') {
      args['x-dead-letter-strategy'] = 'at-least-once';
      args['x-overflow'] = 'reject-publish';
    }
    return this.#durable(args);
  }

  /** The queue holding the tokens of rate limit `name` (`task.<id>`, `queue.<name>`). */
  rateQueue(name: string): string {
    return `${this.options.prefix}.rate.${name}`;
  }

  /** The leadership group of rate limit `name` (its leader seeds the tokens): a hash, since group names are short. */
  rateGroup(name: string): string {
    return `rate-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
  }

  /** RabbitMQ queue for a logical queue name. */
  physical(queue: string): string {
    // Kept: every publish asks, and the same string each time is hashed once (the publisher's sets look it up).
    let name = this.#physical.get(queue);
    if (name === undefined) {
      name = `${this.#workPrefix}${queue}`;
      if (this.#physical.size < MAX_KEPT_NAMES) this.#physical.set(queue, name);
    }
    return name;
  }

  /** Arguments of a work queue; a key partition (`<queue>~p<n>`) has a single active consumer. */
  workQueueOptions(physical?: string): Options.AssertQueue {
    const args: Record<string, unknown> = {};
    if (physical !== undefined && isPartition(physical)) args['x-single-active-consumer'] = true;
    if (this.options.queueType === 'quorum') {
      args['x-delivery-limit'] = this.options.deliveryLimit;
      // Past the limit the broker drops the message unless it has somewhere to send it: our
      // dead-letter queue (x-death says why). At-least-once dead-lettering needs reject-publish.
      args['x-dead-letter-exchange'] = '';
      args['x-dead-letter-routing-key'] = this.deadQueue;
      args['x-dead-letter-strategy'] = 'at-least-once';
      args['x-overflow'] = 'reject-publish';
    } else if (this.options.maxPriority > 0) {
      args['x-max-priority'] = this.options.maxPriority;
    }
    return this.#durable(args);
  }

  /** The delivery exchange: with quorum queues, what it cannot route goes to the dead-letter queue. */
  deliveryExchangeOptions(): Options.AssertExchange {
    if (this.options.queueType === 'quorum') return { durable: true, alternateExchange: this.unroutableExchange };
    return { durable: true };
  }

  /** The queue of a delayed task that reached the dead-letter queue unroutable (see unroutableExchange), if it is one. */
  unroutableTarget(deathQueue: unknown, routingKey: string): string | undefined {
    if (typeof deathQueue !== 'string' || !deathQueue.startsWith(`${this.options.prefix}.delay.`)) return undefined;
    const physical = this.physical('');
    const at = routingKey.indexOf(`.${physical}`);
    return at < 0 ? undefined : routingKey.slice(at + 1 + physical.length);
  }

  /** Routing key pattern binding a work queue to the delivery exchange: every level word, then its name. */
  deliveryBinding(physicalQueue: string): string {
    return `${'*.'.repeat(DELAY_LEVELS)}${physicalQueue}`;
  }

  delayExchange(level: number): string {
    return `${this.options.prefix}.delay.${level}`;
  }

  delayQueue(level: number): string {
    return `${this.options.prefix}.delay.${level}`;
  }

  /** Exchange and routing key for publishing `physicalQueue` with a delay. */
  delayedRoute(physicalQueue: string, delayMs: number): { exchange: string; routingKey: string } {
    const ticks = Math.min(2 ** DELAY_LEVELS - 1, Math.max(1, Math.round(delayMs / DELAY_TICK_MS)));
    const words: string[] = [];
    for (let level = DELAY_LEVELS - 1; level >= 0; level--)
      words.push(Math.floor(ticks / 2 ** level) % 2 === 1 ? '1' : '0');
    return { exchange: this.delayExchange(DELAY_LEVELS - 1), routingKey: `${words.join('.')}.${physicalQueue}` };
  }

  /** Binding pattern on level N's exchange matching bit N = `bit`. */
  levelPattern(level: number, bit: '0' | '1'): string {
    return `${'*.'.repeat(DELAY_LEVELS - 1 - level)}${bit}.#`;
  }
}

/** Channels used side by side to declare the delay levels. */
const DECLARE_CHANNELS = 7;

/**
 * Declares the delay levels (exchanges, TTL queues, bindings). amqplib runs
 * one RPC at a time per channel, so the ~110 declarations are spread over a
 * few short-lived channels: the first delayed publish of a process waits a
 * handful of round trips, not a hundred (every publish queued behind it waits too).
 */
export async function declareDelayLevels(
  model: ChannelModel,
  t: Topology,
  track: (channel: Channel) => Channel = (channel) => channel,
): Promise<void> {
  const channels = await Promise.all(
    Array.from({ length: DECLARE_CHANNELS }, async () => track(await model.createChannel())),
  );
  // A refused declaration closes its channel with an error event; the rejected RPC carries the reason.
  for (const channel of channels) channel.on('error', () => {});
  const levels = Array.from({ length: DELAY_LEVELS }, (_, level) => level);
  const on = (level: number) => channels[level % DECLARE_CHANNELS];
  try {
    // Exchanges first: each level binds to the exchange of the level below.
    await declareDeliveryExchange(channels[0], t);
    await Promise.all(
      levels.map((level) => on(level).assertExchange(t.delayExchange(level), 'topic', { durable: true })),
    );
    await Promise.all(
      levels.map(async (level) => {
        const channel = on(level);
        const next = level === 0 ? t.deliveryExchange : t.delayExchange(level - 1);
        await channel.assertQueue(t.delayQueue(level), t.delayQueueOptions(level));
        await channel.bindQueue(t.delayQueue(level), t.delayExchange(level), t.levelPattern(level, '1'));
        await channel.bindExchange(next, t.delayExchange(level), t.levelPattern(level, '0'));
      }),
    );
  } finally {
    await Promise.all(channels.map((channel) => channel.close().catch(() => {})));
  }
}

/**
 * Declares the delivery exchange; with quorum queues first its alternate exchange and the dead-letter queue bound to it,
 * so nothing is ever routed to an alternate exchange that does not exist yet.
 */
export async function declareDeliveryExchange(channel: Channel, t: Topology): Promise<void> {
  if (t.options.queueType === 'quorum') {
    await channel.assertExchange(t.unroutableExchange, 'fanout', { durable: true });
    await channel.assertQueue(t.deadQueue, t.deadQueueOptions());
    await channel.bindQueue(t.deadQueue, t.unroutableExchange, '');
  }
  await channel.assertExchange(t.deliveryExchange, 'topic', t.deliveryExchangeOptions());
}

/**
 * Declares the submit exchange, after its alternate exchange and the held queue bound to it, so a task no queue takes
 * is never dropped for want of them.
 */
export async function declareSubmitExchange(channel: Channel, t: Topology): Promise<void> {
  await channel.assertExchange(t.heldExchange, 'fanout', { durable: true });
  await channel.assertQueue(t.heldQueue, t.heldQueueOptions());
  await channel.bindQueue(t.heldQueue, t.heldExchange, '');
  await channel.assertExchange(t.submitExchange, 'direct', { durable: true, alternateExchange: t.heldExchange });
}
