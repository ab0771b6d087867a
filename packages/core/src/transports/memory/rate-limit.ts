import { ClosedError } from '../../errors.js';
import { DELAY_TICK_MS } from '../../task-options.js';
import type { RateLimitTokens, RateToken } from '../../transport.js';

interface Waiter {
  readonly resolve: (token: RateToken) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * One rate limit within a process (the memory transport): `max` slots, each free again one window (plus a tick, as on
 * amqp) after it was used; a hold keeps every slot shut. The first member's `max` and window govern, as the leader's
 * do on amqp.
 */
class MemoryRatePool {
  readonly max: number;
  readonly perMs: number;
  /** Date.now() from which each slot may be taken. */
  readonly #freeAt: number[];
  readonly #taken: boolean[];
  readonly #waiters: Waiter[] = [];
  #holdUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  members = 0;

  constructor(max: number, perMs: number) {
    this.max = max;
    this.perMs = perMs;
    this.#freeAt = new Array<number>(max).fill(0);
    this.#taken = new Array<boolean>(max).fill(false);
  }

  take(signal: AbortSignal): Promise<RateToken> {
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
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#dispatch();
    });
  }

  hold(ms: number): void {
    this.#holdUntil = Math.max(this.#holdUntil, Date.now() + ms);
    this.#dispatch();
  }

  /** Hands free slots to waiters in order; sets a timer for the next slot to come free. */
  #dispatch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#waiters.length === 0) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (let slot = 0; slot < this.max && this.#waiters.length > 0; slot++) {
      if (this.#taken[slot]) continue;
      const freeAt = Math.max(this.#freeAt[slot], this.#holdUntil);
      if (freeAt > now) {
        next = Math.min(next, freeAt);
        continue;
      }
      const waiter = this.#waiters.shift() as Waiter;
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      this.#taken[slot] = true;
      waiter.resolve(this.#token(slot));
    }
    if (this.#waiters.length > 0 && next !== Number.POSITIVE_INFINITY) {
      this.#timer = setTimeout(() => this.#dispatch(), next - now);
    }
  }

  #token(slot: number): RateToken {
    let settled = false;
    const settle = (freeAt: number): void => {
      if (settled) return;
      settled = true;
      this.#taken[slot] = false;
      this.#freeAt[slot] = freeAt;
      this.#dispatch();
    };
    return {
      get valid() {
        return !settled;
      },
      use: () => settle(Date.now() + this.perMs + DELAY_TICK_MS),
      giveBack: () => settle(this.#freeAt[slot]),
    };
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const waiter of this.#waiters.splice(0)) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.reject(new ClosedError('the rate limit'));
    }
  }
}

/** The rate limits of one memory transport, by name. */
export class MemoryRateLimits {
  readonly #pools = new Map<string, MemoryRatePool>();

  join(name: string, limit: { readonly max: number; readonly perMs: number }): RateLimitTokens {
    let pool = this.#pools.get(name);
    if (!pool) this.#pools.set(name, (pool = new MemoryRatePool(limit.max, limit.perMs)));
    const shared = pool;
    shared.members++;
    let closed = false;
    return {
      take: (signal) => (closed ? Promise.reject(new ClosedError('the rate limit')) : shared.take(signal)),
      hold: async (ms) => shared.hold(ms),
      // Members of one process share the pool: a hold is already everyone's.
      held: () => {},
      close: async () => {
        if (closed) return;
        closed = true;
        if (--shared.members === 0) {
          shared.close();
          this.#pools.delete(name);
        }
      },
    };
  }

  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }
}
