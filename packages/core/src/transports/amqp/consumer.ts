import { AckCoalescer } from './ack-coalescer.js';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { failPoint } from '../failpoint.js';
import type { Logger } from '../../logger.js';
import { baseQueue, isPartition } from '../../task-options.js';
import type { ConsumeOptions, Delivery, MessageHeaders, Subscription } from '../../transport.js';
import type { ManagedConnection } from './connection.js';
import { messageIdOf, taskqHeaders } from './message-properties.js';
import type { PresenceMember } from './presence.js';
import { declareDeliveryExchange, declareSubmitExchange, type Topology } from './topology.js';

/** Held tasks (see Topology.heldQueue) one worker moves back at a time. */
const HELD_PREFETCH = 32;

/** Pause before a held task whose move failed is tried again (its queue cannot be declared, the broker refused). */
const HELD_RETRY_MS = 1_000;

/**
 * Moves a held task (published when its work queue did not exist) to its queue, declaring the queue again; resolves
 * when the broker confirmed the copy.
 */
export type HeldMover = (message: ConsumeMessage) => Promise<void>;

/** One message as the worker gets it: a class, not an object of closures, since one is made per message. */
class AmqpDelivery implements Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Buffer;
  readonly headers: MessageHeaders;
  readonly redelivered: boolean;
  readonly #subscription: ConsumerSubscription;
  readonly #channel: Channel;
  readonly #message: ConsumeMessage;

  constructor(subscription: ConsumerSubscription, channel: Channel, message: ConsumeMessage, queue: string) {
    this.id = messageIdOf(message.properties);
    this.queue = queue;
    this.body = message.content;
    this.headers = taskqHeaders(message.properties.headers);
    this.redelivered = message.fields.redelivered;
    this.#subscription = subscription;
    this.#channel = channel;
    this.#message = message;
  }

  ack(): void {
    this.#subscription.settle(this.#channel, this.#message, true);
  }

  requeue(): void {
    this.#subscription.settle(this.#channel, this.#message, false);
  }
}

/**
 * One consumer (a worker's subscription) on the consuming connection. After
 * a reconnect it declares its queues and consumes again; acks for messages
 * of a channel that died are dropped, since the broker redelivers those.
 */
export class ConsumerSubscription implements Subscription {
  readonly #connection: ManagedConnection;
  readonly #topology: Topology;
  readonly #options: ConsumeOptions;
  readonly #acks = new WeakMap<Channel, AckCoalescer>();
  readonly #onDelivery: (delivery: Delivery) => void;
  readonly #logger: Logger;
  readonly #presence: PresenceMember | undefined;
  readonly #moveHeld: HeldMover | undefined;
  #channel: Channel | undefined;
  /**
   * The channel being set up by `start()`: it delivers as soon as it consumes, before `start()` makes it the current
   * channel, and a task that finishes at once acks on it then.
   */
  #startingChannel: Channel | undefined;
  #tags: string[] = [];
  /** Consumer tag of each work queue consumed now (not the paused ones). */
  #queueTags = new Map<string, string>();
  #active = true;
  #started = false;
  #starting: Promise<void> | undefined;

  constructor(
    connection: ManagedConnection,
    topology: Topology,
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
    logger: Logger,
    presence?: PresenceMember,
    moveHeld?: HeldMover,
  ) {
    this.#connection = connection;
    this.#topology = topology;
    this.#options = options;
    this.#onDelivery = onDelivery;
    this.#logger = logger;
    this.#presence = presence;
    this.#moveHeld = moveHeld;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Opens a channel on the current connection and starts consuming (again). */
  start(): Promise<void> {
    this.#starting ??= this.#start().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const model: ChannelModel = await this.#connection.current();
    if (!this.#active) return;
    const channel = this.#connection.track(await model.createChannel());
    const acks = new AckCoalescer(channel, (error) =>
      this.#logger.warn('AMQP ack failed', { error: this.#connection.describe(error) }),
    );
    this.#acks.set(channel, acks);
    this.#startingChannel = channel;
    channel.on('error', (error: Error) =>
      this.#logger.warn('AMQP consume channel error', { error: this.#connection.describe(error) }),
    );
    channel.on('close', () => {
      acks.discard();
      if (this.#startingChannel === channel) this.#startingChannel = undefined;
      if (this.#channel !== channel) return;
      this.#channel = undefined;
      // A channel-level failure on a live connection: consume again on a fresh channel.
      if (this.#active && this.#connection.isOpen) this.restartSoon();
    });
    const tags: string[] = [];
    const queueTags = new Map<string, string>();
    let joined = false;
    try {
      await channel.prefetch(this.#options.prefetch);
      const t = this.#topology;
      await channel.assertQueue(t.deadQueue, t.deadQueueOptions());
      await declareDeliveryExchange(channel, t);
      await declareSubmitExchange(channel, t);
      if (this.#presence) {
        tags.push(await this.#presence.join(channel));
        joined = true;
      }
      // Counted before this subscription consumes: the others, whose presence answers the check waits for.
      const consumers = new Map<string, number>();
      for (const queue of this.#options.queues) {
        const physical = t.physical(queue);
        consumers.set(queue, (await channel.assertQueue(physical, t.workQueueOptions(physical))).consumerCount);
        await channel.bindQueue(physical, t.deliveryExchange, t.deliveryBinding(physical));
        await channel.bindQueue(physical, t.submitExchange, physical);
      }
      await this.#presence?.options.beforeConsume(consumers, this.#started);
      queueTags.clear();
      for (const queue of this.#options.queues) {
        if (this.#options.paused?.has(baseQueue(queue))) continue;
        queueTags.set(queue, await this.#consumeQueue(channel, queue));
      }
      if (this.#moveHeld) {
        await channel.prefetch(HELD_PREFETCH);
        const { consumerTag } = await channel.consume(t.heldQueue, (message) => this.#held(channel, message), {
          noAck: false,
        });
        tags.push(consumerTag);
      }
    } catch (error) {
      if (this.#startingChannel === channel) this.#startingChannel = undefined;
      if (joined) void this.#presence?.leave();
      // The retry opens a fresh channel: this one must not stay open beside it (its presence queue goes with it).
      channel.close().catch(() => {});
      throw error;
    }
    this.#started = true;
    this.#channel = channel;
    if (this.#startingChannel === channel) this.#startingChannel = undefined;
    this.#tags = tags;
    this.#queueTags = queueTags;
    if (!this.#active) await this.cancel();
  }

  async #consumeQueue(channel: Channel, queue: string): Promise<string> {
    // Per-consumer prefetch: set before each consume, it holds for that queue's consumer (key partitions: maxPerKey).
    await channel.prefetch(this.#options.prefetchOf?.get(queue) ?? this.#options.prefetch);
    const { consumerTag } = await channel.consume(
      this.#topology.physical(queue),
      (message) => this.#deliver(channel, queue, message),
      { noAck: false },
    );
    return consumerTag;
  }

  /**
   * Cancels the queue's consumer: its messages stay in the queue for when it
   * is resumed, and its prefetch no longer holds any back from other consumers.
   */
  async pause(queue: string): Promise<void> {
    // A queue's key partitions pause and resume with it.
    for (const partition of this.#partitionsOf(queue)) await this.#pauseOne(partition);
    await this.#pauseOne(queue);
  }

  #partitionsOf(queue: string): string[] {
    return this.#options.queues.filter((q) => q !== queue && baseQueue(q) === queue);
  }

  async #pauseOne(queue: string): Promise<void> {
    const tag = this.#queueTags.get(queue);
    const channel = this.#channel;
    if (tag === undefined || !channel) return;
    this.#queueTags.delete(queue);
    await channel.cancel(tag).catch(() => {});
  }

  async resume(queue: string): Promise<void> {
    await this.#resumeOne(queue);
    for (const partition of this.#partitionsOf(queue)) await this.#resumeOne(partition);
  }

  async #resumeOne(queue: string): Promise<void> {
    const channel = this.#channel;
    // Without a channel the next (re)start consumes it, unless it is paused again by then.
    if (!channel || !this.#active || this.#queueTags.has(queue) || !this.#options.queues.includes(queue)) return;
    this.#queueTags.set(queue, '');
    try {
      this.#queueTags.set(queue, await this.#consumeQueue(channel, queue));
    } catch (error) {
      this.#queueTags.delete(queue);
      this.#logger.warn('AMQP consume after resume failed', { queue, error: this.#connection.describe(error) });
    }
  }

  /** Retries `start()` with a short pause until it succeeds or the subscription is cancelled. */
  restartSoon(): void {
    if (!this.#active) return;
    setTimeout(() => {
      if (!this.#active || this.#channel) return;
      this.start().catch((error) => {
        this.#logger.warn('AMQP consumer restart failed; retrying', { error: this.#connection.describe(error) });
        this.restartSoon();
      });
    }, 100).unref();
  }

  /** The connection went away; its channel with it. */
  lost(): void {
    this.#channel = undefined;
    this.#startingChannel = undefined;
  }

  #deliver(channel: Channel, queue: string, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted): consume again, which re-declares it.
      this.#logger.warn('AMQP consumer cancelled by the broker; consuming again', { queue });
      if (this.#channel === channel) {
        this.#channel = undefined;
        this.#acks.get(channel)?.flush();
        channel.close().catch(() => {});
      }
      this.restartSoon();
      return;
    }
    // Registered before anything else: an ack sent with `multiple` must never cover a message still held here.
    this.#acks.get(channel)?.delivered(message);
    if (!this.#active && isPartition(queue)) {
      // Cancelled, but a key partition is still owned until close(): the message stays unacknowledged here and goes
      // back, in its place, when the channel closes.
      return;
    }
    const delivery = new AmqpDelivery(this, channel, message, queue);
    this.#onDelivery(delivery);
  }

  /**
   * A held task: moved to its queue, then acked. A failed move is tried again after a pause, for as long as this
   * channel is the subscription's; a closed channel hands the task back to the held queue.
   */
  #held(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      this.#deliver(channel, this.#topology.heldQueue, null);
      return;
    }
    this.#acks.get(channel)?.delivered(message);
    const move = (): void => {
      const moveHeld = this.#moveHeld as HeldMover;
      moveHeld(message).then(
        () => this.settle(channel, message, true),
        (error: unknown) => {
          this.#logger.warn('AMQP held task could not be moved to its queue; trying again', {
            queue: message.fields.routingKey,
            error: this.#connection.describe(error),
          });
          if (this.#channel === channel || this.#startingChannel === channel) setTimeout(move, HELD_RETRY_MS).unref();
        },
      );
    };
    move();
  }

  /**
   * Acks and requeues belong to the channel that delivered; on a dead channel the broker redelivers anyway. Acks go
   * out coalesced at the end of the event loop's turn ({@link AckCoalescer}).
   */
  settle(channel: Channel, message: ConsumeMessage, ack: boolean): void {
    if (this.#channel !== channel && this.#startingChannel !== channel) return;
    const acks = this.#acks.get(channel);
    if (!acks) return;
    if (ack) {
      failPoint('amqp.before-ack');
      acks.ack(message);
    } else acks.requeue(message);
  }

  async cancel(): Promise<void> {
    this.#active = false;
    const channel = this.#channel;
    if (!channel) return;
    if (this.#tags.length > 0) await this.#presence?.leave();
    const tags = [...this.#queueTags].filter(([queue]) => !isPartition(queue)).map(([, tag]) => tag);
    for (const tag of [...this.#tags, ...tags]) {
      try {
        await channel.cancel(tag);
      } catch {
        // The channel is already gone: nothing more will be delivered on it.
      }
    }
    this.#tags = [];
    // Key partitions keep their consumer until close(): cancelling now would make another worker the active consumer
    // while tasks of the partition still run here (two of a key at once).
    for (const queue of [...this.#queueTags.keys()]) if (!isPartition(queue)) this.#queueTags.delete(queue);
  }

  /** Closes the channel (after `cancel` and once in-flight messages are settled). */
  async close(): Promise<void> {
    this.#active = false;
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) this.#acks.get(channel)?.flush();
    await channel?.close().catch(() => {});
  }
}
