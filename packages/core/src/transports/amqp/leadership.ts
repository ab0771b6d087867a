import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { withTimeout } from '../../internal/with-timeout.js';
import { ClosedError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { Leadership } from '../../transport.js';
import type { ManagedConnection } from './connection.js';
import type { LeadershipQueues } from './topology.js';

/** How long a member waits before joining again after its channel closed under it (its connection came back). */
const REJOIN_DELAY_MS = 250;

/** The token every member puts into the election queue when it joins; whoever holds one unacknowledged leads. */
const TOKEN = Buffer.from('{"taskq":"leader-token","v":1}');

/**
 * Leadership through a single-active-consumer queue. Every member consumes the election queue with prefetch 1 and
 * puts a token into it when it joins; RabbitMQ delivers only to the active consumer, so only that one receives a
 * token, and holding it unacknowledged makes it the leader. When its channel or connection goes, the broker gives
 * the token back to the queue and hands it, and the consumer role, to the next member. The queue keeps at most one
 * ready token (drop-head): joins never pile tokens up.
 *
 * The group's state is a durable queue holding at most one message (the last written wins, drop-head); it is read
 * with a get that puts the message straight back. State is written and read on the publishing connection, the token
 * is consumed on the consuming one.
 */
export class AmqpLeadership implements Leadership {
  readonly #consume: ManagedConnection;
  readonly #publish: ManagedConnection;
  readonly #queues: LeadershipQueues;
  readonly #onChange: (leader: boolean) => void;
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  #channel: Channel | undefined;
  #stateChannel: Promise<ConfirmChannel> | undefined;
  #leader = false;
  #left = false;
  #rejoin: NodeJS.Timeout | undefined;

  constructor(fields: {
    consume: ManagedConnection;
    publish: ManagedConnection;
    queues: LeadershipQueues;
    onChange: (leader: boolean) => void;
    logger: Logger;
    timeoutMs: number;
  }) {
    this.#consume = fields.consume;
    this.#publish = fields.publish;
    this.#queues = fields.queues;
    this.#onChange = fields.onChange;
    this.#logger = fields.logger;
    this.#timeoutMs = fields.timeoutMs;
  }

  get leader(): boolean {
    return this.#leader;
  }

  /** Declares the queues, consumes the election queue and puts a token into it. */
  async join(): Promise<void> {
    if (this.#left) throw new ClosedError('the leadership');
    const model = await this.#consume.current();
    const channel = this.#consume.track(await model.createChannel());
    // Closing errors (a 404 after a concurrent delete, a connection loss) are answered by the close handler.
    channel.on('error', (error: unknown) =>
      this.#logger.debug('leadership channel error', { error: this.#consume.describe(error) }),
    );
    channel.on('close', () => this.#closed(channel));
    try {
      await channel.assertQueue(this.#queues.leader, this.#queues.leaderOptions);
      await channel.prefetch(1);
      this.#channel = channel;
      await channel.consume(this.#queues.leader, (message) => this.#delivered(channel, message), { noAck: false });
      // The token goes out on the publishing connection: the consuming one never publishes (a broker alarm blocks
      // publishing connections, and with them their acks).
      const state = await this.#openStateChannel();
      state.sendToQueue(this.#queues.leader, TOKEN, { persistent: false });
    } catch (error) {
      if (this.#channel === channel) this.#channel = undefined;
      await channel.close().catch(() => {});
      throw error;
    }
  }

  #delivered(channel: Channel, message: ConsumeMessage | null): void {
    if (channel !== this.#channel) return;
    if (message === null) {
      // The broker cancelled the consumer (the queue was deleted): join again, with a fresh queue.
      this.#logger.warn('the leader election queue went away; joining again');
      void channel.close().catch(() => {});
      return;
    }
    if (this.#leader) {
      // A second token (prefetch 1 makes this rare): one is enough, the other may go to the next leader.
      channel.nack(message, false, true);
      return;
    }
    this.#leader = true;
    this.#onChange(true);
  }

  #closed(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    if (this.#leader) {
      this.#leader = false;
      this.#onChange(false);
    }
    this.#scheduleRejoin();
  }

  /** Joins again once the connection is back (current() waits for it, retrying with backoff). */
  #scheduleRejoin(): void {
    if (this.#left || this.#rejoin) return;
    this.#rejoin = setTimeout(() => {
      this.#rejoin = undefined;
      this.join().catch((error: unknown) => {
        if (this.#left) return;
        this.#logger.warn('joining the leader election again failed; retrying', {
          error: this.#consume.describe(error),
        });
        this.#scheduleRejoin();
      });
    }, REJOIN_DELAY_MS);
  }

  #openStateChannel(): Promise<ConfirmChannel> {
    if (this.#left) return Promise.reject(new ClosedError('the leadership'));
    this.#stateChannel ??= (async () => {
      const model = await this.#publish.current();
      const channel = this.#publish.track(await model.createConfirmChannel());
      channel.on('error', () => {});
      channel.on('close', () => {
        this.#stateChannel = undefined;
      });
      await channel.assertQueue(this.#queues.leader, this.#queues.leaderOptions);
      await channel.assertQueue(this.#queues.state, this.#queues.stateOptions);
      return channel;
    })().catch((error: unknown) => {
      this.#stateChannel = undefined;
      throw error;
    });
    return this.#stateChannel;
  }

  async readState(): Promise<Buffer | undefined> {
    return this.#bounded('reading the leadership state', async () => {
      const channel = await this.#openStateChannel();
      const message = await channel.get(this.#queues.state, { noAck: false });
      if (message === false) return undefined;
      // Put back at once: the state stays for the next leader, and a later write replaces it (drop-head).
      channel.nack(message, false, true);
      return message.content;
    });
  }

  async writeState(state: Buffer): Promise<void> {
    await this.#bounded('writing the leadership state', async () => {
      const channel = await this.#openStateChannel();
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(this.#queues.state, state, { persistent: true }, (error: unknown) =>
          error ? reject(this.#publish.error('the broker refused the leadership state', error)) : resolve(),
        );
      });
    });
  }

  #bounded<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withTimeout(fn(), this.#timeoutMs, () =>
      this.#publish.error(`${what} took over ${this.#timeoutMs} ms`, this.#publish.lastError),
    );
  }

  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    if (this.#rejoin) clearTimeout(this.#rejoin);
    const channel = this.#channel;
    this.#channel = undefined;
    const wasLeader = this.#leader;
    this.#leader = false;
    // Closing the channel gives the token back to the queue: the next member leads.
    await channel?.close().catch(() => {});
    const state = this.#stateChannel;
    this.#stateChannel = undefined;
    await state?.then((c) => c.close()).catch(() => {});
    if (wasLeader) this.#onChange(false);
  }
}
