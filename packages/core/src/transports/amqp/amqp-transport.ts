import { ClosedError, InvalidOptionError } from '../../errors.js';
import { withTimeout } from '../../internal/with-timeout.js';
import { passwordsOf, redactUrl } from '../../internal/redact.js';
import { type Logger, useLogger } from '../../logger.js';
import { checkMessageLimits, MAX_PREFIX_LENGTH, parseDuration } from '../../task-options.js';
import type {
  ConsumeOptions,
  ControlPlane,
  DeadLetter,
  DeadLetterStore,
  Delivery,
  Leadership,
  OutgoingMessage,
  RateLimitTokens,
  Subscription,
  Transport,
} from '../../transport.js';
import { deadLetterId } from '../dead-letters.js';
import { failPoint } from '../failpoint.js';
import { ManagedConnection } from './connection.js';
import { ConsumerSubscription, type HeldMover } from './consumer.js';
import { heldTaskMover } from './held-tasks.js';
import { CONTROL_KEY, PresenceMember } from './presence.js';
import { encodeControl, encodeHeartbeat, parseHeartbeat } from '../../internal/control.js';

/** Routing key of worker heartbeats: bound by watchers only, so workers do not hear each other's every beat. */
const HEARTBEAT_KEY = 'heartbeat';
import { AmqpDeadLetterStore } from './dead-letter-store.js';
import { Publisher } from './publisher.js';
import { DEFAULT_PREFIX, type QueueType, Topology } from './topology.js';
import { Users } from '../../internal/users.js';
import { checkGroup } from '../../internal/leadership-group.js';
import { AmqpLeadership } from './leadership.js';
import { AmqpRateLimit } from './rate-limit.js';
import { LIMIT_NAME } from '../../internal/control.js';

/** Options of {@link amqp}. */
export interface AmqpTransportOptions {
  /** Broker URL, e.g. `amqp://guest:guest@127.0.0.1:5672`. Its password never appears in logs or errors. */
  readonly url?: string;
  /** Several broker URLs (a cluster): each reconnect tries the next one. */
  readonly urls?: readonly string[];
  /**
   * Prefix of every exchange and queue taskq declares.
   * @defaultValue `'taskq'`
   */
  readonly prefix?: string;
  /**
   * How long a publish may wait for a connection, for flow control to lift and
   * for the broker's confirm, before `submit()` rejects.
   * @defaultValue `30_000`
   */
  readonly publishTimeout?: number | string;
  /**
   * How long `worker.start()` waits for the first connection.
   * @defaultValue `30_000`
   */
  readonly connectTimeout?: number | string;
  /**
   * Heartbeat in seconds, added to URLs that do not set `?heartbeat=`; a dead peer is noticed after about two.
   * @defaultValue `10`
   */
  readonly heartbeat?: number;
  /** Reconnect backoff. @defaultValue `{ initialDelay: 100, maxDelay: 10_000 }` */
  readonly reconnect?: { readonly initialDelay?: number; readonly maxDelay?: number };
  /**
   * `'quorum'` for replicated queues on a RabbitMQ cluster (poison messages are cut off by `deliveryLimit`).
   * @defaultValue `'classic'`
   */
  readonly queueType?: QueueType;
  /** Quorum queues: deliveries of one message before the broker drops it. @defaultValue `20` */
  readonly deliveryLimit?: number;
  /** Classic queues: enables message priorities 0..maxPriority. @defaultValue `0` (off) */
  readonly maxPriority?: number;
  /** @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

// Its length bounds the queue names submit accepts (task-options.ts): the two are defined together.
const PREFIX = new RegExp(`^[A-Za-z0-9_\\-:]{1,${MAX_PREFIX_LENGTH}}$`);

function withHeartbeat(url: string, heartbeat: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}heartbeat=${heartbeat}`;
}

// Set by AmqpTransport's static block, which alone can read its private fields.
let channelsOf: (transport: AmqpTransport) => ChannelCounts;

/**
 * RabbitMQ through amqplib: two long-lived connections (publishing and
 * consuming, so a publisher blocked by flow control never stalls acks), one
 * confirm channel for all publishes, durable queues, persistent messages,
 * prefetch = concurrency, ack after the task settled. Nothing connects until
 * the first publish or consume.
 */
export class AmqpTransport implements Transport {
  readonly kind = 'amqp';
  readonly durable = true;
  /** Prefix of every exchange and queue this transport declares. */
  readonly prefix: string;
  /** The broker URLs with passwords hidden, for display. */
  readonly displayUrls: readonly string[];
  /** The dead-letter queue (`<prefix>.dead`): list, retry, purge. */
  readonly dead: DeadLetterStore;
  readonly #topology: Topology;
  readonly #publisher: Publisher;
  readonly #moveHeld: HeldMover;
  readonly #publishConnection: ManagedConnection;
  readonly #consumeConnection: ManagedConnection;
  readonly #subscriptions = new Set<ConsumerSubscription>();
  readonly #connectTimeoutMs: number;
  readonly #publishTimeoutMs: number;
  readonly #leaderships = new Set<AmqpLeadership>();
  readonly #logger: Logger;
  readonly #users = new Users(() => this.close());
  #closed = false;

  constructor(options: AmqpTransportOptions) {
    const urls = resolveUrls(options);
    const secrets = passwordsOf(urls);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof prefix !== 'string' || !PREFIX.test(prefix))
      throw new InvalidOptionError(
        'prefix',
        `expected letters, digits, '_', '-' or ':' (1-${MAX_PREFIX_LENGTH} characters), got ${JSON.stringify(prefix)}`,
      );
    const queueType = options.queueType ?? 'classic';
    if (queueType !== 'classic' && queueType !== 'quorum')
      throw new InvalidOptionError('queueType', `expected 'classic' or 'quorum', got ${JSON.stringify(queueType)}`);
    const deliveryLimit = options.deliveryLimit ?? 20;
    if (!Number.isInteger(deliveryLimit) || deliveryLimit < 1)
      throw new InvalidOptionError('deliveryLimit', `expected a positive integer, got ${deliveryLimit}`);
    const maxPriority = options.maxPriority ?? 0;
    if (!Number.isInteger(maxPriority) || maxPriority < 0 || maxPriority > 9)
      throw new InvalidOptionError('maxPriority', `expected an integer 0-9, got ${maxPriority}`);
    // RabbitMQ 3.x quorum queues refuse x-max-priority at declare: said now, not as a channel error at the first submit.
    if (maxPriority > 0 && queueType === 'quorum')
      throw new InvalidOptionError(
        'maxPriority',
        `quorum queues have no message priorities: maxPriority ${maxPriority} needs queueType 'classic' (or drop maxPriority to use queueType 'quorum')`,
      );
    const heartbeat = options.heartbeat ?? 10;
    if (!Number.isInteger(heartbeat) || heartbeat < 0)
      throw new InvalidOptionError('heartbeat', `expected a whole number of seconds, got ${heartbeat}`);
    const publishTimeoutMs = parseDuration(options.publishTimeout ?? 30_000, 'publishTimeout');
    this.#publishTimeoutMs = publishTimeoutMs;
    this.#connectTimeoutMs = parseDuration(options.connectTimeout ?? 30_000, 'connectTimeout');
    const policy = {
      initialDelayMs: options.reconnect?.initialDelay ?? 100,
      maxDelayMs: options.reconnect?.maxDelay ?? 10_000,
    };
    const logger = useLogger(options.logger);
    this.#logger = logger;
    const fullUrls = urls.map((url) => withHeartbeat(url, heartbeat));

    this.prefix = prefix;
    this.displayUrls = urls.map(redactUrl);
    this.#topology = new Topology({ prefix, queueType, deliveryLimit, maxPriority });
    this.#publisher = new Publisher(() => this.#publishConnection, this.#topology, publishTimeoutMs, logger);
    this.#moveHeld = heldTaskMover(this.#topology, this.#publisher, logger);
    this.#publishConnection = new ManagedConnection({
      urls: fullUrls,
      secrets,
      role: 'publish',
      prefix,
      policy,
      logger,
      onConnect: () => this.#publisher.resume(),
      onLoss: () => this.#publisher.lost(),
      onUnblocked: () => this.#publisher.resume(),
    });
    this.#consumeConnection = new ManagedConnection({
      urls: fullUrls,
      secrets,
      role: 'consume',
      prefix,
      policy,
      logger,
      onConnect: () => {
        for (const subscription of this.#subscriptions) subscription.restartSoon();
      },
      onLoss: () => {
        for (const subscription of this.#subscriptions) subscription.lost();
        // Reconnect right away when someone still consumes; the loop backs off on failures.
        if (this.#subscriptions.size > 0 && !this.#closed) this.#consumeConnection.current().catch(() => {});
      },
    });
    this.dead = new AmqpDeadLetterStore(
      this.#publishConnection,
      this.#publisher,
      this.#topology,
      this.#connectTimeoutMs,
    );
  }

  publish(message: OutgoingMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('the AMQP transport'));
    try {
      // The limits submit enforces, checked again for messages that did not come through submit (an outbox row
      // written by an older version, a worker's retry): refused now, not stuck in the publisher until its timeout.
      checkMessageLimits(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#publisher.publish(
      message.queue,
      message.id,
      message.body,
      message.headers,
      message.priority,
      message.delayMs,
    );
  }

  publishMany(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('the AMQP transport'));
    return this.#publisher.publishMany(messages);
  }

  async consume(options: ConsumeOptions, onDelivery: (delivery: Delivery) => void): Promise<Subscription> {
    if (this.#closed) throw new ClosedError('the AMQP transport');
    const onControl = options.onControl;
    const presence =
      options.presence &&
      new PresenceMember(
        this.#topology,
        options.presence,
        (exchange, key, body) => this.#publisher.publishControl(exchange, key, body),
        this.#logger,
        onControl &&
          ((message) => {
            // A "slow down" of a rate limit is the limit's business: every member of it in this process holds.
            if (message.kind === 'rate-hold') this.#held(message.limit, message.ms);
            onControl(message);
          }),
      );
    const subscription = new ConsumerSubscription(
      this.#consumeConnection,
      this.#topology,
      options,
      onDelivery,
      this.#logger,
      presence,
      this.#moveHeld,
    );
    this.#subscriptions.add(subscription);
    try {
      await withTimeout(subscription.start(), this.#connectTimeoutMs, () =>
        this.#consumeConnection.error(
          `could not start consuming within ${this.#connectTimeoutMs} ms from ${this.displayUrls.join(', ')}`,
          this.#consumeConnection.lastError,
        ),
      );
    } catch (error) {
      this.#subscriptions.delete(subscription);
      await subscription.close();
      throw error;
    }
    return {
      cancel: async () => {
        await subscription.cancel();
        this.#subscriptions.delete(subscription);
        this.#cancelled.add(subscription);
      },
      close: async () => {
        this.#subscriptions.delete(subscription);
        this.#cancelled.delete(subscription);
        await subscription.close();
      },
      pause: (queue) => subscription.pause(queue),
      resume: (queue) => subscription.resume(queue),
    };
  }

  /**
   * Leader election through the single-active-consumer queue `<prefix>.<group>.leader`, with the group's state in
   * `<prefix>.<group>.state` (see AmqpLeadership). A member that loses its connection stops leading at once and
   * joins again when the connection is back.
   */
  async leadership(group: string, onChange: (leader: boolean) => void): Promise<Leadership> {
    checkGroup(group);
    if (this.#closed) throw new ClosedError('the AMQP transport');
    const member = new AmqpLeadership({
      consume: this.#consumeConnection,
      publish: this.#publishConnection,
      queues: this.#topology.leadership(group),
      onChange,
      logger: this.#logger,
      timeoutMs: this.#publishTimeoutMs,
    });
    try {
      await withTimeout(member.join(), this.#connectTimeoutMs, () =>
        this.#consumeConnection.error(
          `could not join the leader election within ${this.#connectTimeoutMs} ms at ${this.displayUrls.join(', ')}`,
          this.#consumeConnection.lastError,
        ),
      );
    } catch (error) {
      await member.leave();
      throw error;
    }
    this.#leaderships.add(member);
    const leaderships = this.#leaderships;
    return {
      get leader() {
        return member.leader;
      },
      readState: () => member.readState(),
      writeState: (state) => member.writeState(state),
      leave: async () => {
        leaderships.delete(member);
        await member.leave();
      },
    };
  }

  readonly #rateLimits = new Set<{ readonly name: string; readonly tokens: AmqpRateLimit }>();
  /** Holds heard, by limit: a limit joined later in this process (on its first task) still honours them. */
  readonly #holds = new Map<string, number>();

  #held(name: string, ms: number): void {
    const until = Date.now() + ms;
    for (const [limit, end] of this.#holds) if (end <= Date.now()) this.#holds.delete(limit);
    if (until > (this.#holds.get(name) ?? 0)) this.#holds.set(name, until);
    for (const limit of this.#rateLimits) if (limit.name === name) limit.tokens.held(ms);
  }

  /**
   * A rate limit by token circulation through `<prefix>.rate.<name>` (see AmqpRateLimit); the leader of its election
   * (`<prefix>.rate-<hash>.leader`) seeds the tokens. A worker's control queue carries the limit's holds.
   */
  async rateLimit(name: string, limit: { readonly max: number; readonly perMs: number }): Promise<RateLimitTokens> {
    if (typeof name !== 'string' || !LIMIT_NAME.test(name))
      throw new InvalidOptionError(
        'name',
        `expected letters, digits and _ $ . - : (1-220), got ${JSON.stringify(name)}`,
      );
    if (this.#closed) throw new ClosedError('the AMQP transport');
    const tokens = new AmqpRateLimit({
      name,
      max: limit.max,
      perMs: limit.perMs,
      consume: this.#consumeConnection,
      publisher: this.#publisher,
      topology: this.#topology,
      logger: this.#logger,
      elect: (onChange) => this.leadership(this.#topology.rateGroup(name), onChange),
    });
    const entry = { name, tokens };
    try {
      await tokens.open();
    } catch (error) {
      await tokens.close();
      throw error;
    }
    this.#rateLimits.add(entry);
    const holdUntil = this.#holds.get(name);
    if (holdUntil !== undefined && holdUntil > Date.now()) tokens.held(holdUntil - Date.now());
    const limits = this.#rateLimits;
    return {
      take: (signal) => tokens.take(signal),
      hold: (ms) => tokens.hold(ms),
      held: (ms) => this.#held(name, ms),
      close: async () => {
        limits.delete(entry);
        await tokens.close();
      },
    };
  }

  // Cancelled subscriptions keep their channel open so in-flight messages can still be acked; closed with the
  // transport.
  readonly #cancelled = new Set<ConsumerSubscription>();

  async deadLetter(message: DeadLetter): Promise<void> {
    if (this.#closed) throw new ClosedError('the AMQP transport');
    await this.#publisher.publishRaw(
      this.#topology.deadQueue,
      deadLetterId(message.id),
      message.body,
      message.headers,
      undefined,
      undefined,
    );
    failPoint('amqp.dead-letter.after-confirm');
  }

  /**
   * Control messages go out on the prefix's control exchange, which every
   * worker's presence queue is bound to. A paused queue is a durable, empty
   * marker queue `<prefix>.paused.<queue>`: it outlives every worker and needs
   * no management plugin to read (a passive declare).
   */
  readonly control: ControlPlane = {
    publish: async (message) => {
      if (this.#closed) throw new ClosedError('the AMQP transport');
      await this.#publisher.publishControl(this.#topology.controlExchange, CONTROL_KEY, encodeControl(message));
    },
    setPaused: async (queue, paused) => {
      const marker = this.#topology.pausedMarker(queue);
      await this.#withControlChannel(async (channel) => {
        if (paused) await channel.assertQueue(marker, this.#topology.pausedMarkerOptions());
        else await channel.deleteQueue(marker);
      });
      await this.control.publish(paused ? { kind: 'pause', queue } : { kind: 'resume', queue });
    },
    heartbeat: async (beat) => {
      if (this.#closed) throw new ClosedError('the AMQP transport');
      await this.#publisher.publishControl(this.#topology.controlExchange, HEARTBEAT_KEY, encodeHeartbeat(beat));
    },
    watchHeartbeats: async (onBeat, onEnd) => {
      // A short-lived listener (`queue.workers()`, the CLI): its own channel and server-named exclusive queue, gone
      // with the channel. Classic whatever the queueType: quorum queues can be neither server-named nor exclusive.
      if (this.#closed) throw new ClosedError('the AMQP transport');
      const channel = this.#publishConnection.track(await (await this.#connectedModel()).createChannel());
      channel.on('error', () => {});
      try {
        await channel.assertExchange(this.#topology.controlExchange, 'topic', { durable: true });
        const { queue } = await channel.assertQueue('', {
          exclusive: true,
          autoDelete: true,
          durable: false,
          arguments: { 'x-max-length': 10_000 },
        });
        await channel.bindQueue(queue, this.#topology.controlExchange, HEARTBEAT_KEY);
        await channel.consume(
          queue,
          (message) => {
            const beat = message && parseHeartbeat(message.content);
            if (beat) onBeat(beat);
          },
          { noAck: true },
        );
      } catch (error) {
        await channel.close().catch(() => {});
        throw error;
      }
      let closing = false;
      channel.on('close', () => {
        if (!closing) onEnd?.();
      });
      return async () => {
        closing = true;
        await channel.close().catch(() => {});
      };
    },
    queueInfo: (queue) =>
      this.#withControlChannel(async (channel) => {
        try {
          const { messageCount, consumerCount } = await channel.checkQueue(this.#topology.physical(queue));
          return { depth: messageCount, consumers: consumerCount };
        } catch (error) {
          if ((error as { code?: unknown }).code === 404) return { depth: 0, consumers: 0 };
          throw error;
        }
      }),
    isPaused: (queue) =>
      this.#withControlChannel(async (channel) => {
        try {
          await channel.checkQueue(this.#topology.pausedMarker(queue));
          return true;
        } catch (error) {
          if ((error as { code?: unknown }).code === 404) return false;
          throw error;
        }
      }),
  };

  #connectedModel(): Promise<import('amqplib').ChannelModel> {
    return withTimeout(this.#publishConnection.current(), this.#connectTimeoutMs, () =>
      this.#publishConnection.error(
        `could not connect within ${this.#connectTimeoutMs} ms to ${this.displayUrls.join(', ')}`,
        this.#publishConnection.lastError,
      ),
    );
  }

  async #withControlChannel<T>(fn: (channel: import('amqplib').Channel) => Promise<T>): Promise<T> {
    if (this.#closed) throw new ClosedError('the AMQP transport');
    const model = await this.#connectedModel();
    const channel = this.#publishConnection.track(await model.createChannel());
    // A passive declare of a missing queue closes the channel with a 404: expected, and answered by the rejection.
    channel.on('error', () => {});
    try {
      return await fn(channel);
    } finally {
      await channel.close().catch(() => {});
    }
  }

  /** The RabbitMQ queue a logical queue's tasks are routed to (`<prefix>.q.<queue>`). */
  destination(queue: string): string {
    return this.#topology.physical(queue);
  }

  retain(): () => Promise<void> {
    return this.#users.retain();
  }

  static {
    // Not a method: the count is for tests of this package, not part of the transport's API.
    channelsOf = (transport) => ({
      publish: { name: transport.#publishConnection.name, channels: transport.#publishConnection.channelsOpen },
      consume: { name: transport.#consumeConnection.name, channels: transport.#consumeConnection.channelsOpen },
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const limit of this.#rateLimits) await limit.tokens.close();
    this.#rateLimits.clear();
    for (const member of this.#leaderships) await member.leave();
    this.#leaderships.clear();
    for (const subscription of [...this.#subscriptions, ...this.#cancelled]) await subscription.close();
    this.#subscriptions.clear();
    this.#cancelled.clear();
    await this.#publisher.close();
    await Promise.all([this.#publishConnection.close(), this.#consumeConnection.close()]);
  }
}

/** The channels a transport holds on each of its connections, and the connection names the broker shows. */
export interface ChannelCounts {
  readonly publish: { readonly name: string; readonly channels: number };
  readonly consume: { readonly name: string; readonly channels: number };
}

/**
 * For this package's tests (not exported from the package): how many channels
 * the transport holds. A process must never hold more than it needs.
 * @internal
 */
export function channelCounts(transport: AmqpTransport): ChannelCounts {
  return channelsOf(transport);
}

function resolveUrls(options: AmqpTransportOptions): string[] {
  if (!options || (options.url === undefined && options.urls === undefined))
    throw new InvalidOptionError('url', 'give the broker URL (url) or several (urls)');
  const urls = options.urls !== undefined ? [...options.urls] : [options.url as string];
  if (urls.length === 0) throw new InvalidOptionError('urls', 'expected at least one URL');
  urls.forEach((url, i) => {
    const option = options.urls ? `urls[${i}]` : 'url';
    if (typeof url !== 'string' || !/^amqps?:\/\//.test(url)) {
      // Show the value redacted: a malformed URL may still carry a password.
      throw new InvalidOptionError(
        option,
        `expected an amqp:// or amqps:// URL, got ${typeof url === 'string' ? JSON.stringify(redactUrl(url)) : typeof url}`,
      );
    }
    // Caught here, not retried forever by the reconnect loop. The TypeError from URL is not
    // passed on: its `input` property holds the whole URL, password included.
    if (!URL.canParse(url)) {
      throw new InvalidOptionError(
        option,
        `${JSON.stringify(redactUrl(url))} is not a valid URL (are special characters in the password percent-encoded?)`,
      );
    }
  });
  return urls;
}

/** Creates the RabbitMQ transport. Opens nothing until first use. */
export function amqp(options: AmqpTransportOptions): AmqpTransport {
  return new AmqpTransport(options);
}
