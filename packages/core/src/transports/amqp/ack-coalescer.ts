import type { Channel, ConsumeMessage } from 'amqplib';

/**
 * The acks of one consuming channel, sent in as few frames as the order of completion allows. Acks asked for during
 * one turn of the event loop go out together at its end: the longest run of acked deliveries at the head of the
 * channel's unsettled ones as one `basic.ack` with `multiple` (the broker settles them all from one frame, where it
 * would otherwise parse and settle a frame per task), anything acked out of order after it one frame each. A
 * delivery still running, or held back unacknowledged, ends the run: `multiple` never covers it. Requeues go out at
 * once, one frame each.
 *
 * Every delivery of the channel that needs a settlement must be {@link delivered} here, in delivery order (the
 * broker's delivery tags rise on a channel); deliveries of no-ack consumers on the same channel need not be, since
 * the broker holds none of them unsettled.
 */
export class AckCoalescer {
  readonly #channel: Channel;
  readonly #onError: (error: unknown) => void;
  /**
   * Each unsettled delivery by its tag, true once acked here and not yet sent. A Map keeps insertion order: its first
   * entries are the oldest deliveries still unsettled, and it holds no more than the channel's unsettled messages.
   */
  readonly #state = new Map<number, boolean>();
  #queued = 0;
  #scheduled = false;

  constructor(channel: Channel, onError: (error: unknown) => void) {
    this.#channel = channel;
    this.#onError = onError;
  }

  delivered(message: ConsumeMessage): void {
    this.#state.set(message.fields.deliveryTag, false);
  }

  ack(message: ConsumeMessage): void {
    const tag = message.fields.deliveryTag;
    if (this.#state.get(tag) !== false) return;
    this.#state.set(tag, true);
    this.#queued++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  requeue(message: ConsumeMessage): void {
    const tag = message.fields.deliveryTag;
    if (this.#state.get(tag) !== false) return;
    this.#state.delete(tag);
    this.#send(() => this.#channel.nack(message, false, true));
  }

  /** The channel is closed: nothing queued can be sent any more (the broker redelivers what it held). */
  discard(): void {
    this.#state.clear();
    this.#queued = 0;
  }

  /** Sends every ack asked for so far (also called before the channel closes: a queued ack must not be lost). */
  readonly flush = (): void => {
    this.#scheduled = false;
    if (this.#queued === 0) return;
    let upTo: number | undefined;
    let count = 0;
    for (const [tag, acked] of this.#state) {
      if (!acked) break;
      this.#state.delete(tag);
      upTo = tag;
      count++;
    }
    this.#queued -= count;
    if (upTo !== undefined) this.#sendAck(upTo, count > 1);
    if (this.#queued === 0) return;
    // Finished out of order, behind a delivery still running: one frame each, now, rather than waiting for it.
    for (const [tag, acked] of this.#state) {
      if (!acked) continue;
      this.#state.delete(tag);
      this.#sendAck(tag, false);
    }
    this.#queued = 0;
  };

  #sendAck(tag: number, multiple: boolean): void {
    // amqplib reads nothing of the message but its delivery tag.
    this.#send(() => this.#channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, multiple));
  }

  #send(write: () => void): void {
    try {
      write();
    } catch (error) {
      this.#onError(error);
    }
  }
}
