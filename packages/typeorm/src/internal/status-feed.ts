import type { Logger, Unsubscribe } from '@taskq/core';
import type { DataSource } from 'typeorm';
import type { Dialect } from './dialect.js';

interface PgClient {
  query(sql: string): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  release(error?: Error | boolean): void;
}

interface Poller {
  timer: NodeJS.Timeout | undefined;
  delayMs: number;
  last: string | undefined;
}

const POLL_MIN_MS = 100;
const POLL_MAX_MS = 1000;

/**
 * @internal Who waits for changes of which status row, and how they hear of them: PostgreSQL notifications on one
 * pooled connection held while anyone subscribes; on SQLite, the store's own writes and an adaptive check of the row.
 */
export class StatusFeed {
  /** The PostgreSQL notification channel; the payload is the task id. */
  static readonly CHANNEL = 'taskq_status';
  readonly #dataSource: DataSource;
  readonly #dialect: Dialect;
  readonly #logger: Logger;
  readonly #fingerprint: (id: string) => Promise<string>;
  readonly #listeners = new Map<string, Set<() => void>>();
  readonly #pollers = new Map<string, Poller>();
  #client: Promise<PgClient> | undefined;

  constructor(dataSource: DataSource, dialect: Dialect, logger: Logger, fingerprint: (id: string) => Promise<string>) {
    this.#dataSource = dataSource;
    this.#dialect = dialect;
    this.#logger = logger;
    this.#fingerprint = fingerprint;
  }

  /** This process wrote the row of `id`. */
  local(id: string): void {
    this.#dispatch(id);
  }

  async subscribe(id: string, listener: () => void): Promise<Unsubscribe> {
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, (set = new Set()));
    set.add(listener);
    const unsubscribe = async (): Promise<void> => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(id) === set) {
        this.#listeners.delete(id);
        this.#stopPolling(id);
      }
      if (this.#listeners.size === 0) await this.#unlisten();
    };
    try {
      if (this.#dialect === 'postgres') await this.#listen();
      else this.#startPolling(id);
    } catch (error) {
      await unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    for (const id of [...this.#pollers.keys()]) this.#stopPolling(id);
    await this.#unlisten();
  }

  #dispatch(id: string): void {
    const set = this.#listeners.get(id);
    if (set) for (const listener of [...set]) listener();
  }

  #listen(): Promise<PgClient> {
    if (this.#client) return this.#client;
    const pool = (this.#dataSource.driver as unknown as { master?: { connect(): Promise<PgClient> } }).master;
    if (!pool) return Promise.reject(new Error('the DataSource has no PostgreSQL pool (is it initialized?)'));
    const connecting = (async () => {
      const client = await pool.connect();
      client.on('notification', (message) => {
        if (message.channel === StatusFeed.CHANNEL && message.payload) this.#dispatch(message.payload);
      });
      client.on('error', (error) => this.#lost(connecting, client, error));
      try {
        await client.query(`LISTEN "${StatusFeed.CHANNEL}"`);
      } catch (error) {
        client.release(error instanceof Error ? error : true);
        throw error;
      }
      return client;
    })();
    this.#client = connecting;
    connecting.catch(() => {
      if (this.#client === connecting) this.#client = undefined;
    });
    return connecting;
  }

  /** The listening connection broke: listen again, then tell everyone to re-read (a change may have been missed). */
  #lost(connecting: Promise<PgClient>, client: PgClient, error: Error): void {
    if (this.#client !== connecting) return;
    this.#client = undefined;
    client.release(error);
    this.#logger.warn('the taskq status notification connection broke; listening again', { error });
    if (this.#listeners.size === 0) return;
    this.#listen().then(
      () => {
        for (const id of [...this.#listeners.keys()]) this.#dispatch(id);
      },
      (listenError: unknown) =>
        this.#logger.error('listening for taskq status notifications failed', { error: listenError }),
    );
  }

  async #unlisten(): Promise<void> {
    const connecting = this.#client;
    if (!connecting) return;
    this.#client = undefined;
    const client = await connecting.catch(() => undefined);
    if (!client) return;
    try {
      await client.query(`UNLISTEN "${StatusFeed.CHANNEL}"`);
      client.release();
    } catch (error) {
      client.release(error instanceof Error ? error : true);
    }
  }

  // SQLite has no notifications: another process's write is seen by checking the row, soon after a change and
  // less often while nothing moves.
  #startPolling(id: string): void {
    if (this.#pollers.has(id)) return;
    const poller: Poller = { timer: undefined, delayMs: POLL_MIN_MS, last: undefined };
    this.#pollers.set(id, poller);
    const tick = async (): Promise<void> => {
      let fingerprint: string | undefined;
      try {
        fingerprint = await this.#fingerprint(id);
      } catch (error) {
        this.#logger.warn('checking a taskq status row failed', { error });
      }
      if (this.#pollers.get(id) !== poller) return;
      if (fingerprint !== undefined && poller.last !== undefined && fingerprint !== poller.last) {
        poller.delayMs = POLL_MIN_MS;
        this.#dispatch(id);
      } else poller.delayMs = Math.min(poller.delayMs * 2, POLL_MAX_MS);
      if (fingerprint !== undefined) poller.last = fingerprint;
      poller.timer = setTimeout(() => void tick(), poller.delayMs);
      poller.timer.unref();
    };
    void tick();
  }

  #stopPolling(id: string): void {
    const poller = this.#pollers.get(id);
    if (poller?.timer !== undefined) clearTimeout(poller.timer);
    this.#pollers.delete(id);
  }
}
