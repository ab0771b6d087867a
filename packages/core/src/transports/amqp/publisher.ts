import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';
import {
  PublishRefusedError,
  PublishTimeoutError,
  PublishUnroutableError,
  TransportError,
  UnpublishableMessageError,
} from '../../errors.js';
import { headerTableBytes, MAX_HEADER_TABLE_BYTES } from '../../internal/bounded-headers.js';
import { Deque } from '../../internal/deque.js';
import { LinkedList, type ListLinks } from '../../internal/linked-list.js';
import type { Logger } from '../../logger.js';
import { checkMessageLimits } from '../../task-options.js';
import type { MessageHeaders, OutgoingMessage } from '../../transport.js';
import { failPoint } from '../failpoint.js';
import type { ManagedConnection } from './connection.js';
import {
  DELAY_TICK_MS,
  declareDelayLevels,
  declareDeliveryExchange,
  declareSubmitExchange,
  type Topology,
} from './topology.js';

/** One publish waiting for its broker confirm (its links are those of the in-flight list). */
interface Pending extends ListLinks<Pending> {
  /** Physical queue the message is for; declared once per channel before the first publish to it. */
  readonly queue: string;
  /**
   * Date.now() at which a delayed message becomes due, or undefined. The
   * delay is turned into a route only when the message is written: time spent
   * waiting for a connection, the topology or flow control must not push the
   * due time back.
   */
  readonly dueAt: number | undefined;
  readonly body: Buffer;
  readonly properties: Options.Publish;
  /**
   * For a work queue: published to the submit exchange, whose alternate exchange keeps what no queue takes (no
   * `mandatory`, which costs the broker per message). Anything else (the dead-letter queue, a token queue, the delay
   * ladder) goes `mandatory`, and a return means its queue was deleted under us.
   */
  readonly viaSubmit: boolean;
  /** Upper bound of its encoded header table. */
  readonly headerBytes: number;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  settled: boolean;
  /** The broker returned it (no queue to route to); its coming confirm does not mean it is stored. */
  returned: boolean;
}

const SWEEP_MS = 100;

/** Pause before a nacked message is published again: a quorum queue elects a new leader within a few hundred ms. */
const NACK_RETRY_MS = 250;

/** Room in a content header frame for everything but the header table (message id, content type, ...). */
const PROPERTIES_OVERHEAD_BYTES = 1_024;

/** RabbitMQ's 406 for a message over its max_message_size; the limit is learned from it. */
const TOO_LARGE = /message size (\d+) is larger than (?:configured )?max size (\d+)/;

/**
 * Publishes on one confirm channel of the publishing connection. Concurrent
 * publishes pipeline: each gets its own confirm callback, none waits for
 * another's round trip. A publish waits (up to its deadline) through
 * reconnects and broker flow control, and resolves only on a broker ack.
 */
export class Publisher {
  readonly #connection: () => ManagedConnection;
  readonly #topology: Topology;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  /** Not written yet (no channel, flow control, a queue to declare): a deque, since a broker outage can leave many. */
  readonly #waiting = new Deque<Pending>();
  /** Written, waiting for the confirm. A list, not a Set: see LinkedList. */
  readonly #inflight = new LinkedList<Pending>();
  /** Nacked, waiting out the pause before they are published again. */
  readonly #pausing = new Set<Pending>();
  #channel: ConfirmChannel | undefined;
  #opening: Promise<void> | undefined;
  #declared = new Set<string>();
  #delaysDeclared = false;
  #writable = true;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  /** The negotiated frame_max of the current connection: a larger header frame would close the connection. */
  #frameMax = 131_072;
  /** The broker's max_message_size, once a refusal told it. */
  #brokerMaxBytes: number | undefined;

  constructor(connection: () => ManagedConnection, topology: Topology, timeoutMs: number, logger: Logger) {
    this.#connection = connection;
    this.#topology = topology;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  /** Called by the connection after every (re)connect or unblock: flush what waited. */
  readonly resume = (): void => {
    if (this.#waiting.length > 0) void this.#pump();
  };

  /**
   * Forgets that `physical` was declared on this channel: its next publish declares (and binds) it again. For a queue
   * found missing elsewhere (a held task).
   */
  forget(physical: string): void {
    this.#declared.delete(physical);
  }

  /** Called when the connection is lost: the channel went with it. */
  readonly lost = (): void => {
    this.#channel = undefined;
  };

  publish(
    queue: string,
    id: string,
    body: Buffer,
    headers: MessageHeaders,
    priority: number | undefined,
    delayMs: number | undefined,
  ): Promise<void> {
    const physical = this.#topology.physical(queue);
    return this.publishRaw(physical, id, body, headers, priority, delayMs);
  }

  /**
   * Publishes several messages; resolves when the broker confirmed them all, rejects with the first failure (the others
   * are published all the same). One promise for the lot, not one per message.
   */
  publishMany(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let left = messages.length;
      let failed = false;
      const confirmed = (): void => {
        if (--left === 0 && !failed) resolve();
      };
      const refused = (error: Error): void => {
        if (failed) return;
        failed = true;
        reject(error);
      };
      for (const message of messages) {
        let physical: string;
        try {
          // The limits submit enforces, checked again for messages that did not come through submit.
          checkMessageLimits(message);
          physical = this.#topology.physical(message.queue);
        } catch (error) {
          refused(error as Error);
          continue;
        }
        this.#enqueue(
          physical,
          message.id,
          message.body,
          message.headers,
          message.priority,
          message.delayMs,
          confirmed,
          refused,
        );
      }
    });
  }

  /** Publishes to a physical queue name (also the dead-letter queue). */
  publishRaw(
    physical: string,
    id: string,
    body: Buffer,
    headers: MessageHeaders,
    priority: number | undefined,
    delayMs: number | undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      this.#enqueue(physical, id, body, headers, priority, delayMs, resolve, reject),
    );
  }

  #enqueue(
    physical: string,
    id: string,
    body: Buffer,
    headers: MessageHeaders,
    priority: number | undefined,
    delayMs: number | undefined,
    resolve: () => void,
    reject: (error: Error) => void,
  ): void {
    const headerBytes = headerTableBytes(headers);
    if (headerBytes > MAX_HEADER_TABLE_BYTES) {
      reject(
        new UnpublishableMessageError(
          `the message's headers take about ${headerBytes} bytes encoded, over the limit of ${MAX_HEADER_TABLE_BYTES}`,
        ),
      );
      return;
    }
    const pending: Pending = {
      queue: physical,
      dueAt: delayMs !== undefined && delayMs >= DELAY_TICK_MS / 2 ? Date.now() + delayMs : undefined,
      body,
      // `mandatory` is decided when the message is written (a delayed one may be due by then; see viaSubmit): a
      // message sent mandatory that no queue takes comes back (basic.return) instead of being confirmed and dropped.
      // It is set here too so every message's properties have one shape. No content type: every task message is a
      // JSON envelope, and each property costs encoding here and decoding in the broker, per message.
      properties: {
        persistent: true,
        mandatory: true,
        messageId: id,
        headers: hasAny(headers) ? headers : undefined,
        priority,
      },
      viaSubmit: this.#topology.isWorkQueue(physical),
      headerBytes,
      deadline: Date.now() + this.#timeoutMs,
      resolve,
      reject,
      settled: false,
      returned: false,
      prev: undefined,
      next: undefined,
      list: undefined,
    };
    this.#ensureSweeper();
    if (!this.#trySend(pending)) {
      this.#waiting.push(pending);
      void this.#pump();
    }
  }

  /**
   * Fire-and-forget for small control messages (presence): written on the
   * publishing connection, so the consuming one never publishes and a broker
   * alarm cannot block its acks. Not confirmed, not retried; the exchange is
   * declared first, since publishing to a missing one would close the channel.
   */
  async publishControl(exchange: string, routingKey: string, body: Buffer): Promise<void> {
    if (this.#closed) return;
    const channel = await this.#openChannel();
    if (exchange !== '' && !this.#declared.has(exchange)) {
      await channel.assertExchange(exchange, 'topic', { durable: true });
      this.#declared.add(exchange);
    }
    channel.publish(exchange, routingKey, body, { contentType: 'application/json', type: 'taskq.presence' });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const error = new TransportError('the AMQP transport was closed before the broker confirmed the message');
    for (const pending of [...this.#waiting.toArray(), ...this.#inflight, ...this.#pausing])
      this.#settle(pending, error);
    this.#waiting.clear();
    this.#inflight.clear();
    this.#pausing.clear();
    const channel = this.#channel;
    this.#channel = undefined;
    await channel?.close().catch(() => {});
  }

  /** Fast path: write now if the channel is open, writable and the queue already declared. */
  #trySend(pending: Pending): boolean {
    const channel = this.#channel;
    if (!channel || !this.#writable || this.#connection().blocked || this.#waiting.length > 0) return false;
    if (!this.#declared.has(pending.queue)) return false;
    if (pending.dueAt !== undefined && !this.#delaysDeclared) return false;
    return this.#write(channel, pending);
  }

  /**
   * Writes one message on `channel`. True when it is written, or refused for
   * what it is (then that publish alone rejects and the channel stays in use);
   * false when the channel turned out to be closed.
   */
  #write(channel: ConfirmChannel, pending: Pending): boolean {
    const refusal = this.#refusal(pending);
    if (refusal) {
      this.#settle(pending, refusal);
      return true;
    }
    const remaining = pending.dueAt === undefined ? 0 : pending.dueAt - Date.now();
    const route = remaining >= DELAY_TICK_MS / 2 ? this.#topology.delayedRoute(pending.queue, remaining) : undefined;
    const viaSubmit = route === undefined && pending.viaSubmit;
    pending.properties.mandatory = !viaSubmit;
    try {
      this.#inflight.add(pending);
      const ok = channel.publish(
        route ? route.exchange : viaSubmit ? this.#topology.submitExchange : '',
        route ? route.routingKey : pending.queue,
        pending.body,
        pending.properties,
        (error) => this.#confirmed(pending, error),
      );
      if (!ok) this.#writable = false;
      return true;
    } catch (error) {
      this.#inflight.delete(pending);
      // amqplib says IllegalOperationError once the channel or its connection is closed or closing;
      // the message goes back to wait for the next channel.
      if (this.#channel !== channel || (error instanceof Error && error.name === 'IllegalOperationError')) return false;
      // Anything else is thrown while encoding this message (a header table that does not fit,
      // a value of the wrong type), before a byte of it is written: the channel is still good.
      this.#settle(
        pending,
        new UnpublishableMessageError(
          `the message cannot be published as it is: ${this.#connection().describe(error)}`,
          { cause: error },
        ),
      );
      return true;
    }
  }

  /** Why the broker or amqplib would refuse this message whatever the channel, if they would. */
  #refusal(pending: Pending): UnpublishableMessageError | undefined {
    if (pending.headerBytes + PROPERTIES_OVERHEAD_BYTES > this.#frameMax) {
      return new UnpublishableMessageError(
        `the message's headers take about ${pending.headerBytes} bytes encoded, more than the connection's frame_max of ${this.#frameMax} allows`,
      );
    }
    if (this.#brokerMaxBytes !== undefined && pending.body.length > this.#brokerMaxBytes) {
      return new UnpublishableMessageError(
        `the message is ${pending.body.length} bytes, over the broker's max_message_size of ${this.#brokerMaxBytes}`,
      );
    }
    return undefined;
  }

  #confirmed(pending: Pending, error: unknown): void {
    this.#inflight.delete(pending);
    if (pending.settled) return;
    const refusal = error ? this.#refusal(pending) : undefined;
    if (refusal) {
      // This one closed the channel with a 406: sending it again would close the next one too.
      this.#settle(pending, refusal);
      return;
    }
    if (!error && pending.returned) {
      // Unroutable: the queue was deleted under us (our declaration cache is stale). Declare it
      // again and publish again, within the deadline.
      pending.returned = false;
      if (Date.now() >= pending.deadline) {
        this.#settle(
          pending,
          new PublishUnroutableError(
            `the broker could not route the message to ${pending.queue}: the queue does not exist`,
          ),
        );
        return;
      }
      this.#waiting.push(pending);
      void this.#pump();
      return;
    }
    if (!error) {
      failPoint('amqp.publish.after-confirm');
      this.#settle(pending);
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (message === 'message nacked') {
      // RabbitMQ nacks what it did not enqueue, and says so for passing states: a quorum queue between two leaders
      // (a node lost or restarting) refuses a channel's first publish to it when no member answers; a queue over a
      // length limit with reject-publish refuses until it drains. So a nack is tried again, after a pause, within
      // the publish's deadline; only a refusal that lasts until then rejects the submit.
      if (Date.now() + NACK_RETRY_MS >= pending.deadline) {
        const triedMs = Date.now() - (pending.deadline - this.#timeoutMs);
        this.#settle(
          pending,
          new PublishRefusedError(`the broker refused the message (nack) on every try for ${triedMs} ms`),
        );
        return;
      }
      this.#pausing.add(pending);
      setTimeout(() => {
        this.#pausing.delete(pending);
        if (pending.settled || this.#closed) return;
        this.#ensureSweeper();
        this.#waiting.push(pending);
        void this.#pump();
      }, NACK_RETRY_MS).unref();
      return;
    }
    // The channel closed before the confirm: the broker may or may not have it. Publish again
    // (at-least-once; the task id lets consumers recognise a duplicate).
    if (Date.now() >= pending.deadline) {
      this.#settle(
        pending,
        new PublishTimeoutError(
          `the broker did not confirm the message within ${this.#timeoutMs} ms (connection lost)`,
        ),
      );
      return;
    }
    this.#waiting.push(pending);
    void this.#pump();
  }

  /** basic.return comes before the confirm of the same message: mark it, the confirm decides. */
  #returned(messageId: unknown): void {
    for (const pending of this.#inflight) {
      if (pending.properties.messageId !== messageId || pending.returned) continue;
      pending.returned = true;
      this.#declared.delete(pending.queue);
      this.#logger.warn('AMQP publish returned as unroutable; declaring the queue again', { queue: pending.queue });
      return;
    }
  }

  #settle(pending: Pending, error?: Error): void {
    if (pending.settled) return;
    pending.settled = true;
    if (error) pending.reject(error);
    else pending.resolve();
  }

  #pumping = false;

  /** Slow path: (re)open the channel, declare what is missing, then send what waited, in order. */
  async #pump(): Promise<void> {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      while (this.#waiting.length > 0 && !this.#closed) {
        const channel = await this.#openChannel();
        if (this.#connection().blocked || !this.#writable) return; // resumed by 'unblocked' / 'drain'
        const pending = this.#waiting.peek() as Pending;
        if (pending.settled) {
          this.#waiting.shift();
          continue;
        }
        if (pending.dueAt !== undefined && !this.#delaysDeclared) await this.#declareDelays();
        if (!this.#declared.has(pending.queue)) await this.#declareQueue(channel, pending.queue);
        this.#waiting.shift();
        const sent = this.#trySendNow(channel, pending);
        if (!sent) this.#waiting.unshift(pending);
      }
    } catch (error) {
      this.#logger.debug('AMQP publisher will retry', { error: this.#connection().describe(error) });
      // Connection or channel trouble: wait for the next reconnect (resume) or deadline sweep.
      setTimeout(() => void this.#pump(), 50).unref();
    } finally {
      this.#pumping = false;
    }
  }

  #trySendNow(channel: ConfirmChannel, pending: Pending): boolean {
    if (this.#write(channel, pending)) return true;
    if (this.#channel === channel) this.#channel = undefined;
    // Released before the next one is opened, in case amqplib still holds it (closing, not yet closed).
    channel.close().catch(() => {});
    return false;
  }

  async #openChannel(): Promise<ConfirmChannel> {
    if (this.#channel) return this.#channel;
    this.#opening ??= (async () => {
      const model: ChannelModel = await this.#connection().current();
      const channel = this.#connection().track(await model.createConfirmChannel());
      this.#frameMax = frameMaxOf(model) ?? this.#frameMax;
      channel.on('error', (error: Error) => {
        const tooLarge = TOO_LARGE.exec(error.message);
        if (tooLarge) this.#brokerMaxBytes = Number(tooLarge[2]);
        this.#logger.warn('AMQP publish channel error', { error: this.#connection().describe(error) });
      });
      channel.on('close', () => {
        if (this.#channel === channel) this.#channel = undefined;
        this.#declared = new Set();
        this.#delaysDeclared = false;
        this.#writable = true;
        if (this.#waiting.length > 0 && !this.#closed) setTimeout(() => void this.#pump(), 10).unref();
      });
      channel.on('return', (message: { properties: { messageId?: unknown } }) =>
        this.#returned(message.properties.messageId),
      );
      channel.on('drain', () => {
        this.#writable = true;
        this.resume();
      });
      this.#declared = new Set();
      this.#delaysDeclared = false;
      this.#writable = true;
      this.#channel = channel;
    })().finally(() => {
      this.#opening = undefined;
    });
    await this.#opening;
    if (!this.#channel) throw new TransportError('the publish channel closed while opening');
    return this.#channel;
  }

  async #declareQueue(channel: ConfirmChannel, physical: string): Promise<void> {
    // Declared by the publisher too: a message published before any worker declared
    // its queue would otherwise be unroutable and silently dropped (while still confirmed).
    if (physical === this.#topology.deadQueue) {
      await channel.assertQueue(physical, this.#topology.deadQueueOptions());
    } else {
      // The dead-letter queue first: a quorum work queue dead-letters into it on its own
      // (delivery limit), possibly before any worker has declared it.
      if (!this.#declared.has(this.#topology.deadQueue)) {
        await channel.assertQueue(this.#topology.deadQueue, this.#topology.deadQueueOptions());
        this.#declared.add(this.#topology.deadQueue);
      }
      await channel.assertQueue(physical, this.#topology.publishTargetOptions(physical));
      await declareDeliveryExchange(channel, this.#topology);
      await channel.bindQueue(physical, this.#topology.deliveryExchange, this.#topology.deliveryBinding(physical));
      if (this.#topology.isWorkQueue(physical)) {
        const submit = this.#topology.submitExchange;
        if (!this.#declared.has(submit)) {
          await declareSubmitExchange(channel, this.#topology);
          this.#declared.add(submit);
        }
        await channel.bindQueue(physical, submit, physical);
      }
    }
    this.#declared.add(physical);
  }

  async #declareDelays(): Promise<void> {
    await declareDelayLevels(await this.#connection().current(), this.#topology, (channel) =>
      this.#connection().track(channel),
    );
    this.#delaysDeclared = true;
  }

  #ensureSweeper(): void {
    if (this.#sweeper) return;
    // One timer for all pending publishes instead of one per message (the hot path stays timer-free).
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  #sweep(): void {
    const now = Date.now();
    const reason = this.#connection().blocked
      ? 'the broker is blocking publishers (memory or disk alarm)'
      : this.#connection().isOpen
        ? 'no confirm arrived'
        : `the broker is unreachable${this.#connection().lastError ? ` (${this.#connection().lastError})` : ''}`;
    for (const pending of this.#inflight) {
      if (now >= pending.deadline) {
        this.#inflight.delete(pending);
        this.#settle(
          pending,
          new PublishTimeoutError(`the broker did not confirm the message within ${this.#timeoutMs} ms: ${reason}`),
        );
      }
    }
    for (const pending of this.#waiting.removeWhere((p) => p.settled || now >= p.deadline)) {
      this.#settle(
        pending,
        new PublishTimeoutError(`the message could not be published within ${this.#timeoutMs} ms: ${reason}`),
      );
    }
    if (this.#inflight.size === 0 && this.#waiting.length === 0 && this.#pausing.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }
}

/** amqplib keeps the negotiated frame_max on the connection under the model; it has no public accessor. */
function frameMaxOf(model: ChannelModel): number | undefined {
  const frameMax = (model as unknown as { connection?: { frameMax?: unknown } }).connection?.frameMax;
  return typeof frameMax === 'number' && frameMax > 0 ? frameMax : undefined;
}

function hasAny(headers: MessageHeaders): boolean {
  for (const _ in headers) return true;
  return false;
}
