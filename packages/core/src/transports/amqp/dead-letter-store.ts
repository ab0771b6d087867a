import type { Channel, GetMessage } from 'amqplib';
import { InvalidOptionError, TransportError } from '../../errors.js';
import { withTimeout } from '../../internal/with-timeout.js';
import type { DeadLetterRecord, DeadLetterStore } from '../../transport.js';
import { type BrokerDeath, canRetry, retryHeaders, toDeadLetterRecord } from '../dead-letters.js';
import type { ManagedConnection } from './connection.js';
import { taskqHeaders } from './message-properties.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';

/** Dead letters sent back per round trip by `retry('all')`. */
const RETRY_BATCH = 100;
/** How long `list`/`retry` wait at most for the letters they looked at to be back in the queue. */
const HAND_BACK_WAIT_MS = 2_000;
const HAND_BACK_POLL_MS = 10;

/**
 * The dead-letter queue read through basic.get. AMQP has no "peek": `list`
 * takes messages without acking them and closes its channel, which puts them
 * back in their place. `retry` re-publishes through the confirmed publisher
 * and acks the dead letter only after the broker confirmed the copy, so a
 * failure in between leaves a duplicate, never a loss. It looks at most at the
 * letters present when it started: letters that die again meanwhile wait for
 * the next retry instead of looping.
 *
 * Both hand back what they took before they return and wait (bounded) until
 * the broker counts those letters as ready again: a quorum queue applies the
 * return through its log after the channel is gone, so without the wait a
 * `retry(id)` right after a `list` could find the queue empty and send nothing.
 */
export class AmqpDeadLetterStore implements DeadLetterStore {
  readonly #connection: ManagedConnection;
  readonly #publisher: Publisher;
  readonly #topology: Topology;
  readonly #timeoutMs: number;

  constructor(connection: ManagedConnection, publisher: Publisher, topology: Topology, timeoutMs: number) {
    this.#connection = connection;
    this.#publisher = publisher;
    this.#topology = topology;
    this.#timeoutMs = timeoutMs;
  }

  count(): Promise<number> {
    return this.#withChannel(async (_channel, messageCount) => messageCount);
  }

  list(limit = 100): Promise<DeadLetterRecord[]> {
    if (!Number.isInteger(limit) || limit < 1)
      return Promise.reject(new InvalidOptionError('limit', `expected a positive integer, got ${limit}`));
    return this.#withChannel(async (channel, messageCount) => {
      const records: DeadLetterRecord[] = [];
      for (let i = 0; i < Math.min(limit, messageCount); i++) {
        const message = await channel.get(this.#topology.deadQueue, { noAck: false });
        if (message === false) break;
        records.push(this.#record(message));
      }
      await this.#handBack(channel, messageCount);
      return records;
    });
  }

  retry(target: string | 'all'): Promise<number> {
    if (typeof target !== 'string' || target.length === 0)
      return Promise.reject(new InvalidOptionError('target', "expected a dead letter's id or 'all'"));
    return this.#withChannel(async (channel, messageCount) => {
      let sent = 0;
      let seen = 0;
      while (seen < messageCount) {
        const batch: Array<{ message: GetMessage; record: DeadLetterRecord & { queue: string } }> = [];
        while (batch.length < RETRY_BATCH && seen < messageCount) {
          const message = await channel.get(this.#topology.deadQueue, { noAck: false });
          if (message === false) {
            seen = messageCount;
            break;
          }
          seen++;
          const record = this.#record(message);
          // Not the one asked for, or no queue to send it to: left unacked, the channel close puts it back.
          if ((target !== 'all' && record.id !== target) || !canRetry(record)) continue;
          batch.push({ message, record });
          if (target !== 'all') seen = messageCount;
        }
        await Promise.all(
          batch.map(async ({ message, record }) => {
            await this.#publisher.publish(
              record.queue,
              record.id,
              record.body,
              retryHeaders(record),
              undefined,
              undefined,
            );
            channel.ack(message);
          }),
        );
        sent += batch.length;
      }
      await this.#handBack(channel, messageCount - sent);
      return sent;
    });
  }

  purge(): Promise<number> {
    return this.#withChannel(async (channel) => (await channel.purgeQueue(this.#topology.deadQueue)).messageCount);
  }

  #record(message: GetMessage): DeadLetterRecord {
    const raw = (message.properties.headers ?? {}) as Record<string, unknown>;
    const id = typeof message.properties.messageId === 'string' ? message.properties.messageId : '';
    return toDeadLetterRecord(
      id,
      message.content,
      taskqHeaders(raw),
      this.#brokerDeath(raw, message.fields.routingKey),
    );
  }

  /**
   * For letters the broker dead-lettered itself (a quorum queue's delivery limit; a delayed task whose queue was gone,
   * sent here by the delivery exchange's alternate exchange): why and from where.
   */
  #brokerDeath(raw: Record<string, unknown>, routingKey: string): BrokerDeath | undefined {
    const deaths = raw['x-death'];
    if (!Array.isArray(deaths) || deaths.length === 0) return undefined;
    const first = deaths[0] as { reason?: unknown; queue?: unknown; time?: unknown };
    const physical = typeof first.queue === 'string' ? first.queue : undefined;
    const prefix = this.#topology.physical('');
    const time = first.time as { value?: unknown } | undefined;
    // Its last death is the ladder's last hop (expired); it is here because its queue was gone when it came due.
    const unroutable = this.#topology.unroutableTarget(first.queue, routingKey);
    if (unroutable !== undefined)
      return {
        reason: 'unroutable',
        queue: unroutable,
        time: typeof time?.value === 'number' ? new Date(time.value * 1000) : undefined,
      };
    return {
      // The broker writes delivery_limit; our reasons are kebab-case.
      reason: typeof first.reason === 'string' ? first.reason.replaceAll('_', '-') : 'unknown',
      queue: physical?.startsWith(prefix) ? physical.slice(prefix.length) : undefined,
      time: typeof time?.value === 'number' ? new Date(time.value * 1000) : undefined,
    };
  }

  /**
   * Returns the unacked letters this channel holds and waits until the queue holds at least `expected` ready ones
   * again, or HAND_BACK_WAIT_MS passed (another reader holding letters meanwhile): a bounded courtesy, not a lock.
   */
  async #handBack(channel: Channel, expected: number): Promise<void> {
    channel.nackAll(true);
    const deadline = Date.now() + Math.min(HAND_BACK_WAIT_MS, this.#timeoutMs);
    for (;;) {
      const { messageCount } = await channel.checkQueue(this.#topology.deadQueue);
      if (messageCount >= expected || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, HAND_BACK_POLL_MS));
    }
  }

  async #withChannel<T>(fn: (channel: Channel, messageCount: number) => Promise<T>): Promise<T> {
    const model = await this.#within(this.#connection.current());
    const channel = this.#connection.track(await model.createChannel());
    channel.on('error', () => {});
    try {
      const { messageCount } = await channel.assertQueue(this.#topology.deadQueue, this.#topology.deadQueueOptions());
      return await fn(channel, messageCount);
    } finally {
      // Unacked letters (listed, or not the one asked for) go back where they were.
      await channel.close().catch(() => {});
    }
  }

  #within<T>(promise: Promise<T>): Promise<T> {
    const opened = promise.catch((error: unknown) => {
      throw error instanceof TransportError
        ? error
        : this.#connection.error('the dead-letter queue could not be opened', error);
    });
    return withTimeout(opened, this.#timeoutMs, () =>
      this.#connection.error(
        `the broker could not be reached within ${this.#timeoutMs} ms`,
        this.#connection.lastError,
      ),
    );
  }
}
