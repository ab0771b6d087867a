import type { EventEmitter } from 'node:events';
import { type ChannelModel, connect } from 'amqplib';
import { ClosedError, TransportError } from '../../errors.js';
import { coalesceWrites } from './coalesce-writes.js';
import { redactUrl, scrub } from '../../internal/redact.js';
import type { Logger } from '../../logger.js';

export interface ReconnectPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * One long-lived AMQP connection that comes back by itself. Each (re)connect
 * tries the next URL (failover) after a backoff with jitter. `current()`
 * gives the open connection or waits for one; listeners hear about each new
 * connection (to re-create channels and consumers) and each loss.
 *
 * Built on amqplib's plain `connect` rather than its `recovery` option:
 * recovery takes one URL, and we need failover across several plus our own
 * bounded waits for publishers.
 */
export class ManagedConnection {
  readonly #urls: readonly string[];
  readonly #secrets: readonly string[];
  readonly #role: string;
  readonly #name: string;
  readonly #policy: ReconnectPolicy;
  readonly #logger: Logger;
  readonly #onConnect: (model: ChannelModel) => void;
  readonly #onLoss: () => void;
  readonly #onUnblocked: () => void;
  #model: ChannelModel | undefined;
  #connecting: Promise<ChannelModel> | undefined;
  #urlIndex = 0;
  #everConnected = false;
  #closed = false;
  #blocked = false;
  #sleep: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  #lastError: string | undefined;
  #channels = 0;

  constructor(fields: {
    urls: readonly string[];
    secrets: readonly string[];
    role: 'publish' | 'consume';
    /**
     * The transport's prefix: part of the connection name the broker shows (`rabbitmqctl list_connections
     * client_properties`).
     */
    prefix: string;
    policy: ReconnectPolicy;
    logger: Logger;
    onConnect: (model: ChannelModel) => void;
    onLoss: () => void;
    onUnblocked?: () => void;
  }) {
    this.#urls = fields.urls;
    this.#secrets = fields.secrets;
    this.#role = fields.role;
    this.#name = `taskq ${fields.role} ${fields.prefix} (pid ${process.pid})`;
    this.#policy = fields.policy;
    this.#logger = fields.logger;
    this.#onConnect = fields.onConnect;
    this.#onLoss = fields.onLoss;
    this.#onUnblocked = fields.onUnblocked ?? (() => {});
  }

  /** True while the broker blocks publishing on this connection (memory or disk alarm). */
  get blocked(): boolean {
    return this.#blocked;
  }

  get isOpen(): boolean {
    return this.#model !== undefined;
  }

  /** The name the broker shows for this connection. */
  get name(): string {
    return this.#name;
  }

  /** Channels open on this connection (counted by {@link track}). */
  get channelsOpen(): number {
    return this.#channels;
  }

  /**
   * Counts `channel` as open until it emits `close` (which amqplib emits for
   * every channel, also when the connection goes): every channel taskq opens is
   * passed through here, so a leak shows in {@link channelsOpen}.
   */
  track<T extends EventEmitter>(channel: T): T {
    this.#channels++;
    channel.once('close', () => {
      this.#channels--;
    });
    return channel;
  }

  /** The last connection failure, already scrubbed of secrets. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** The open connection, connecting (and retrying forever, with backoff) when there is none. */
  current(): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(new ClosedError('the AMQP transport'));
    if (this.#model) return Promise.resolve(this.#model);
    this.#connecting ??= this.#connectLoop().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#sleep?.wake();
    const model = this.#model;
    this.#model = undefined;
    if (model) {
      try {
        await model.close();
      } catch {
        // Already closing or closed by the broker: nothing left to release.
      }
    }
  }

  async #connectLoop(): Promise<ChannelModel> {
    let delay = this.#policy.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw new ClosedError('the AMQP transport');
      const url = this.#urls[this.#urlIndex % this.#urls.length];
      try {
        // TCP_NODELAY on the publishing connection: a small frame (a control-plane question, a lone publish) goes out
        // now rather than after the previous segment's ACK, which with delayed ACKs cost ~40 ms a round trip. Not on
        // the consuming one: there Nagle's algorithm coalesces the acks of a busy worker (measured: with it off, worker
        // and broker CPU per task rose ~10 % and end-to-end throughput fell).
        const model = await connect(url, {
          noDelay: this.#role === 'publish',
          clientProperties: { connection_name: this.#name },
        });
        if (this.#closed) {
          await model.close().catch(() => {});
          throw new ClosedError('the AMQP transport');
        }
        // Said for every connection after a loss too (not only after failed attempts): with several URLs, where a
        // client went after its node left is worth a line even when the first URL tried answered.
        const restored = attempt > 1 || this.#everConnected;
        this.#everConnected = true;
        this.#attach(model);
        if (restored) this.#logger.info(`AMQP ${this.#role} connection restored`, { url: redactUrl(url), attempt });
        return model;
      } catch (error) {
        if (this.#closed) throw new ClosedError('the AMQP transport');
        this.#lastError = this.describe(error);
        this.#urlIndex++;
        this.#logger.warn(`AMQP ${this.#role} connection failed; retrying`, {
          url: redactUrl(url),
          error: this.#lastError,
          retryInMs: Math.round(delay),
        });
        await this.#pause(delay);
        delay = Math.min(this.#policy.maxDelayMs, delay * 2) * (0.75 + Math.random() * 0.5);
      }
    }
  }

  #attach(model: ChannelModel): void {
    coalesceWrites(model);
    this.#model = model;
    this.#blocked = false;
    model.on('error', (error: Error) => {
      this.#logger.warn(`AMQP ${this.#role} connection error`, { error: this.describe(error) });
    });
    model.on('blocked', (reason: string) => {
      this.#blocked = true;
      this.#logger.warn(`AMQP ${this.#role} connection blocked by the broker`, { reason });
    });
    model.on('unblocked', () => {
      this.#blocked = false;
      this.#logger.info(`AMQP ${this.#role} connection unblocked`);
      this.#onUnblocked();
    });
    // RabbitMQ's close_all_connections emits 'close' (320) with no 'error': reconnect on 'close', once.
    model.once('close', () => {
      if (this.#model !== model) return;
      this.#model = undefined;
      this.#blocked = false;
      this.#onLoss();
      if (!this.#closed) this.#logger.warn(`AMQP ${this.#role} connection lost; reconnecting`);
    });
    this.#onConnect(model);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleep = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleep = { timer, wake };
    });
  }

  /** An error's message with every URL password removed. */
  describe(error: unknown): string {
    const code =
      typeof error === 'object' && error !== null && 'code' in error
        ? ` (${String((error as { code: unknown }).code)})`
        : '';
    return scrub(`${error instanceof Error ? error.message : String(error)}${code}`, this.#secrets);
  }

  /** A TransportError whose message carries no secret. */
  error(message: string, error?: unknown): TransportError {
    return new TransportError(error === undefined ? message : `${message}: ${this.describe(error)}`);
  }
}
