import type { Channel, ConsumeMessage } from 'amqplib';
import { ClosedError } from '../../errors.js';
import { encodeControl } from '../../internal/control.js';
import type { Logger } from '../../logger.js';
import { DELAY_TICK_MS } from '../../task-options.js';
import type { Leadership, RateLimitTokens, RateToken } from '../../transport.js';
import type { ManagedConnection } from './connection.js';
import { CONTROL_KEY } from './presence.js';
import type { Publisher } from './publisher.js';
import { declareDeliveryExchange, type Topology } from './topology.js';

/** How long a member waits before consuming tokens again after its channel closed under it. */
const REOPEN_DELAY_MS = 250;

/** What the leader records about the tokens it put into circulation. */
interface SeedState {
  readonly gen: number;
  readonly max: number;
  readonly perMs: number;
  /** False while the leader is still publishing the generation's tokens: a leader that finds it so seeds anew. */
  readonly complete: boolean;
}

interface TokenBody {
  readonly gen: number;
  readonly slot: number;
  readonly perMs: number;
}

interface Waiter {
  readonly resolve: (token: RateToken) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

export interface AmqpRateLimitFields {
  readonly name: string;
  readonly max: number;
  readonly perMs: number;
  readonly consume: ManagedConnection;
  readonly publisher: Publisher;
  readonly topology: Topology;
  readonly logger: Logger;
  readonly elect: (onChange: (leader: boolean) => void) => Promise<Leadership>;
}

/**
 * A rate limit by token circulation (see docs/rate-limits.md). `max` tokens live in the durable queue
 * `<prefix>.rate.<name>`; a member consumes it (prefetch 1, only while a task waits) and holds a token until the task
 * starts; then it publishes the token back through the delay levels, one window (plus a tick) later, and acks the
 * one it took. Each token is thus used at most once per window, and there are at most `max` starts in any window.
 *
 * The leader of the limit's election seeds the tokens, once per generation: when the recorded seed is missing,
 * incomplete or for another `max`/window. A new generation's tokens become usable one window later, and a member
 * drops tokens of older generations than it has seen, so a re-seed does not double the rate for more than the time a
 * member needs to see the new generation. A duplicated token (a connection lost between a token's re-publish and
 * its ack) is dropped by a member that sees its slot used again within a window.
 */
export class AmqpRateLimit implements RateLimitTokens {
  readonly #f: AmqpRateLimitFields;
  readonly #queue: string;
  readonly #waiters: Waiter[] = [];
  /** Slot -> Date.now() of its last use by this member. */
  readonly #lastUse = new Map<number, number>();
  #leadership: Leadership | undefined;
  #gen = 0;
  #channel: Channel | undefined;
  #opening: Promise<Channel> | undefined;
  #tag: string | undefined;
  #consuming: Promise<void> | undefined;
  #holdUntil = 0;
  #holdTimer: NodeJS.Timeout | undefined;
  #reopen: NodeJS.Timeout | undefined;
  #seeding = false;
  #closed = false;
  /** Returns of used tokens not yet acked: closing waits for them, or the broker would requeue a used token at once. */
  readonly #returning = new Set<Promise<void>>();

  constructor(fields: AmqpRateLimitFields) {
    this.#f = fields;
    this.#queue = fields.topology.rateQueue(fields.name);
  }

  /**
   * Joins the limit's election; its leader seeds. Members learn the current generation from the tokens they take: only
   * a leader reads the seed record (a read takes the record's message for a moment, so two readers at once could
   * miss it).
   */
  async open(): Promise<void> {
    this.#leadership = await this.#f.elect((leader) => {
      if (leader) void this.#seed();
    });
  }

  take(signal: AbortSignal): Promise<RateToken> {
    if (this.#closed) return Promise.reject(new ClosedError('the rate limit'));
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<RateToken>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal.reason);
          this.#update();
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#update();
    });
  }

  async hold(ms: number): Promise<void> {
    this.held(ms);
    await this.#f.publisher.publishControl(
      this.#f.topology.controlExchange,
      CONTROL_KEY,
      encodeControl({ kind: 'rate-hold', limit: this.#f.name, ms: Math.round(ms) }),
    );
  }

  held(ms: number): void {
    const until = Date.now() + ms;
    if (until <= this.#holdUntil) return;
    this.#holdUntil = until;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = setTimeout(() => this.#update(), ms + 1);
    this.#holdTimer.unref();
    this.#update();
  }

  /** Consumes tokens while someone waits and the limit is not held; stops consuming otherwise. */
  #update(): void {
    if (this.#closed) return;
    const want = this.#waiters.length > 0 && Date.now() >= this.#holdUntil;
    if (want && !this.#tag && !this.#consuming) {
      this.#consuming = this.#startConsuming()
        .catch((error: unknown) => {
          if (this.#closed) return;
          this.#f.logger.warn('consuming rate-limit tokens failed; retrying', {
            limit: this.#f.name,
            error: this.#f.consume.describe(error),
          });
          this.#scheduleReopen();
        })
        .finally(() => {
          this.#consuming = undefined;
          this.#update();
        });
    } else if (!want && this.#tag && this.#channel) {
      const tag = this.#tag;
      this.#tag = undefined;
      // A token already on its way is given back by #delivered (nobody waits for it).
      this.#channel.cancel(tag).catch(() => {});
    }
  }

  async #startConsuming(): Promise<void> {
    const channel = await this.#openChannel();
    if (this.#tag || this.#closed) return;
    const { consumerTag } = await channel.consume(this.#queue, (message) => this.#delivered(channel, message), {
      noAck: false,
    });
    if (this.#channel !== channel) return;
    this.#tag = consumerTag;
  }

  #openChannel(): Promise<Channel> {
    if (this.#channel) return Promise.resolve(this.#channel);
    this.#opening ??= (async () => {
      const model = await this.#f.consume.current();
      const channel = this.#f.consume.track(await model.createChannel());
      channel.on('error', (error: unknown) =>
        this.#f.logger.debug('rate-limit channel error', { error: this.#f.consume.describe(error) }),
      );
      channel.on('close', () => {
        if (this.#channel !== channel) return;
        // Tokens in hand went back to the queue with the channel (they are no longer valid here).
        this.#channel = undefined;
        this.#tag = undefined;
        if (!this.#closed && this.#waiters.length > 0) this.#scheduleReopen();
      });
      try {
        const t = this.#f.topology;
        await declareDeliveryExchange(channel, t);
        await channel.assertQueue(this.#queue, t.rateQueueOptions(this.#queue));
        await channel.bindQueue(this.#queue, t.deliveryExchange, t.deliveryBinding(this.#queue));
        await channel.prefetch(1);
      } catch (error) {
        await channel.close().catch(() => {});
        throw error;
      }
      this.#channel = channel;
      return channel;
    })().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  #scheduleReopen(): void {
    if (this.#reopen || this.#closed) return;
    this.#reopen = setTimeout(() => {
      this.#reopen = undefined;
      this.#update();
    }, REOPEN_DELAY_MS);
    this.#reopen.unref();
  }

  #delivered(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer (the queue was deleted): consume again, which declares it anew.
      if (this.#channel === channel) this.#tag = undefined;
      this.#scheduleReopen();
      return;
    }
    const token = parseToken(message.content);
    if (!token || token.gen < this.#gen) {
      // Malformed, or of a generation a leader has replaced: out of circulation.
      if (!token) this.#f.logger.warn('dropping a malformed rate-limit token', { limit: this.#f.name });
      channel.ack(message);
      return;
    }
    this.#gen = token.gen;
    const now = Date.now();
    const last = this.#lastUse.get(token.slot);
    if (last !== undefined && now - last < token.perMs) {
      // A token comes back a window after its use at the earliest: this slot, seen again sooner, is a duplicate.
      this.#f.logger.warn('dropping a duplicated rate-limit token', { limit: this.#f.name, slot: token.slot });
      channel.ack(message);
      return;
    }
    const waiter = this.#waiters.shift();
    if (!waiter || now < this.#holdUntil) {
      if (waiter) this.#waiters.unshift(waiter);
      channel.nack(message, false, true);
      this.#update();
      return;
    }
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    waiter.resolve(this.#token(channel, message, token));
    this.#update();
  }

  #token(channel: Channel, message: ConsumeMessage, token: TokenBody): RateToken {
    let settled = false;
    const live = (): boolean => !settled && this.#channel === channel;
    return {
      get valid() {
        return live();
      },
      use: () => {
        if (!live()) return;
        settled = true;
        this.#lastUse.set(token.slot, Date.now());
        // Back one window (rounded up to the delay ladder's tick, plus one) after this use; acked once it is stored,
        // so a crash in between can duplicate the token but never lose it.
        const delayMs = Math.ceil(token.perMs / DELAY_TICK_MS) * DELAY_TICK_MS + DELAY_TICK_MS;
        const returning = this.#f.publisher
          .publishRaw(
            this.#queue,
            message.properties.messageId ?? 'rate-token',
            message.content,
            {},
            undefined,
            delayMs,
          )
          .then(
            () => {
              if (this.#channel === channel) channel.ack(message);
            },
            (error: unknown) => {
              // Not stored: keep the token out of circulation for the window, then give it back as it is.
              this.#f.logger.warn('returning a rate-limit token failed; it goes back after the window', {
                limit: this.#f.name,
                error: this.#f.consume.describe(error),
              });
              setTimeout(() => {
                if (this.#channel === channel) channel.nack(message, false, true);
              }, token.perMs).unref();
            },
          )
          .finally(() => this.#returning.delete(returning));
        this.#returning.add(returning);
      },
      giveBack: () => {
        if (!live()) return;
        settled = true;
        channel.nack(message, false, true);
      },
    };
  }

  /** The leader puts a generation of `max` tokens into circulation, unless the recorded one matches this limit. */
  async #seed(): Promise<void> {
    const leadership = this.#leadership;
    if (this.#seeding || this.#closed) return;
    this.#seeding = true;
    try {
      // The member may have become leader before open() stored its leadership: read it through the election then.
      for (let i = 0; !this.#leadership && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const member = this.#leadership ?? leadership;
      if (!member?.leader) return;
      const state = await this.#readSeed(member);
      const { max, perMs } = this.#f;
      if (state?.complete && state.max === max && state.perMs === perMs) return;
      // Without a record (a new limit) the generation is the time: above any counter a lost record may have held.
      const gen = state ? Math.max(state.gen, this.#gen) + 1 : Math.max(this.#gen + 1, Date.now());
      await member.writeState(encodeState({ gen, max, perMs, complete: false }));
      // From here this member drops the replaced generation's tokens (the others do when they see the new one).
      this.#gen = Math.max(this.#gen, gen);
      // A replaced generation's tokens may have been used within the last window: the new ones start one window on.
      const delayMs = state ? Math.ceil(perMs / DELAY_TICK_MS) * DELAY_TICK_MS + DELAY_TICK_MS : undefined;
      await Promise.all(
        Array.from({ length: max }, (_, slot) =>
          this.#f.publisher.publishRaw(
            this.#queue,
            `rate-${gen}-${slot}`,
            Buffer.from(JSON.stringify({ taskq: 'rate-token', v: 1, gen, slot, perMs })),
            {},
            undefined,
            delayMs,
          ),
        ),
      );
      await member.writeState(encodeState({ gen, max, perMs, complete: true }));
      this.#gen = Math.max(this.#gen, gen);
      this.#f.logger.info('rate limit seeded', { limit: this.#f.name, generation: gen, max, perMs });
    } catch (error) {
      if (this.#closed) return;
      this.#f.logger.warn('seeding a rate limit failed; retrying', {
        limit: this.#f.name,
        error: this.#f.consume.describe(error),
      });
      setTimeout(() => void this.#seed(), 1_000).unref();
    } finally {
      this.#seeding = false;
    }
  }

  /**
   * The seed record, read up to three times when it seems missing: a read of another member (a leader handing over)
   * holds the record's message for a moment, and a missed record would seed a second set of tokens at once.
   */
  async #readSeed(member: Leadership): Promise<SeedState | undefined> {
    for (let attempt = 0; ; attempt++) {
      const state = parseState(await member.readState());
      if (state || attempt === 2) return state;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#holdTimer);
    clearTimeout(this.#reopen);
    for (const waiter of this.#waiters.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new ClosedError('the rate limit'));
    }
    await Promise.allSettled([...this.#returning]);
    const channel = this.#channel;
    this.#channel = undefined;
    // Tokens still unacknowledged (unused ones) go back with the channel.
    await channel?.close().catch(() => {});
    await this.#leadership?.leave().catch(() => {});
  }
}

function parseToken(content: Buffer): TokenBody | undefined {
  try {
    const raw = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    const { taskq, gen, slot, perMs } = raw;
    if (taskq !== 'rate-token') return undefined;
    if (!Number.isSafeInteger(gen) || !Number.isSafeInteger(slot) || !Number.isSafeInteger(perMs)) return undefined;
    if ((perMs as number) < DELAY_TICK_MS || (slot as number) < 0) return undefined;
    return { gen: gen as number, slot: slot as number, perMs: perMs as number };
  } catch {
    return undefined;
  }
}

function encodeState(state: SeedState): Buffer {
  return Buffer.from(JSON.stringify({ taskq: 'rate-seed', v: 1, ...state }));
}

function parseState(content: Buffer | undefined): SeedState | undefined {
  if (!content) return undefined;
  try {
    const raw = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    if (raw.taskq !== 'rate-seed') return undefined;
    const { gen, max, perMs, complete } = raw;
    if (!Number.isSafeInteger(gen) || !Number.isSafeInteger(max) || !Number.isSafeInteger(perMs)) return undefined;
    return { gen: gen as number, max: max as number, perMs: perMs as number, complete: complete === true };
  } catch {
    return undefined;
  }
}
