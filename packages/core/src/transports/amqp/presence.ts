import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../../logger.js';
import type { ControlMessage, PresenceCard, PresenceNews, PresenceOptions } from '../../transport.js';
import type { Topology } from './topology.js';
import { parseControl } from '../../internal/control.js';

/** Routing key of control messages (pause, resume, cancel) on the control exchange. */
export const CONTROL_KEY = 'control';

/** Routing key of announcements on the control exchange. */
const PRESENCE_KEY = 'presence';

/** Largest announcement read; a worker's card with its task names fits well below. */
const MAX_ANNOUNCEMENT_BYTES = 262_144;

/** Announcements kept waiting for a busy worker; older ones are dropped by the broker. */
const MAX_BACKLOG = 1_000;

const LEAVE_WAIT_MS = 1_000;

const INSTANCE = /^[0-9a-f-]{36}$/;
// What reaches logs and error messages is held to plain characters: announcements come off the wire.
const QUEUE = /^[A-Za-z0-9_.\-:]{1,255}$/;
const HOST = /^[A-Za-z0-9_.\-:]{1,255}$/;
const FINGERPRINT = /^[0-9a-f]{1,128}$/;

/** Sends a control message on the publishing connection (see Publisher.publishControl). */
export type ControlSender = (exchange: string, routingKey: string, body: Buffer) => Promise<void>;

/**
 * One worker's part in the presence protocol, on its consume channel: an
 * exclusive, auto-deleted queue bound to the prefix's control exchange,
 * where it hears every `hello` and `bye` and the `here` answers to its own
 * hello. It says hello when it joins, answers each hello of another, and
 * says bye when it leaves. Everything it sends goes out on the publishing
 * connection. Announcements are advisory: malformed ones are ignored.
 */
export class PresenceMember {
  readonly #topology: Topology;
  readonly #options: PresenceOptions;
  readonly #send: ControlSender;
  readonly #logger: Logger;
  readonly #onControl: ((message: ControlMessage) => void) | undefined;

  constructor(
    topology: Topology,
    options: PresenceOptions,
    send: ControlSender,
    logger: Logger,
    onControl?: (message: ControlMessage) => void,
  ) {
    this.#onControl = onControl;
    this.#topology = topology;
    this.#options = options;
    this.#send = send;
    this.#logger = logger;
  }

  get options(): PresenceOptions {
    return this.#options;
  }

  /** Declares and consumes the presence queue on `channel`, then says hello. Resolves with the consumer tag. */
  async join(channel: Channel): Promise<string> {
    const t = this.#topology;
    const queue = t.presenceQueue(this.#options.card.instance);
    await channel.assertExchange(t.controlExchange, 'topic', { durable: true });
    // Classic whatever the queueType: a quorum queue cannot be exclusive, and this one dies with its connection anyway.
    await channel.assertQueue(queue, {
      exclusive: true,
      autoDelete: true,
      durable: false,
      arguments: { 'x-max-length': MAX_BACKLOG },
    });
    await channel.bindQueue(queue, t.controlExchange, PRESENCE_KEY);
    // The same queue carries control messages: one exclusive queue per worker, reconnected with its consumer.
    if (this.#onControl) await channel.bindQueue(queue, t.controlExchange, CONTROL_KEY);
    const { consumerTag } = await channel.consume(queue, (message) => this.#hear(message), { noAck: true });
    void this.#say('hello', t.controlExchange, PRESENCE_KEY);
    return consumerTag;
  }

  /**
   * Says bye; the queue itself goes when its consumer is cancelled or its
   * channel closes. Resolves once it is written, or after a second: a broker
   * that is away must not hold up a worker's stop.
   */
  leave(): Promise<void> {
    const sent = this.#say('bye', this.#topology.controlExchange, PRESENCE_KEY);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, LEAVE_WAIT_MS);
      void sent.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #say(kind: PresenceNews['kind'], exchange: string, routingKey: string): Promise<void> {
    const body = Buffer.from(JSON.stringify({ taskq: 'presence', v: 1, kind, card: this.#options.card }));
    return this.#send(exchange, routingKey, body).catch((error) =>
      this.#logger.debug('a presence announcement could not be sent', { kind, error }),
    );
  }

  #hear(message: ConsumeMessage | null): void {
    if (message === null || message.content.length > MAX_ANNOUNCEMENT_BYTES) return;
    if (message.fields.routingKey === CONTROL_KEY && message.fields.exchange === this.#topology.controlExchange) {
      const control = parseControl(message.content);
      if (control) this.#onControl?.(control);
      else this.#logger.debug('ignoring a malformed control message', { bytes: message.content.length });
      return;
    }
    const news = parseNews(message.content);
    if (!news) {
      this.#logger.debug('ignoring a malformed presence announcement', { bytes: message.content.length });
      return;
    }
    if (news.card.instance === this.#options.card.instance) return;
    // Answered straight into the newcomer's own queue through the default exchange; the name is built here, never taken
    // from the message.
    if (news.kind === 'hello') void this.#say('here', '', this.#topology.presenceQueue(news.card.instance));
    this.#options.onNews(news);
  }
}

function parseNews(content: Buffer): PresenceNews | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { taskq, kind, card } = raw as { taskq?: unknown; kind?: unknown; card?: unknown };
  if (taskq !== 'presence' || (kind !== 'hello' && kind !== 'here' && kind !== 'bye')) return undefined;
  const parsed = parseCard(card);
  return parsed && { kind, card: parsed };
}

const isShortString = (value: unknown, max: number): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max;

function parseCard(value: unknown): PresenceCard | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { instance, queues, fingerprint, tasks, host, pid } = value as Record<string, unknown>;
  if (typeof instance !== 'string' || !INSTANCE.test(instance)) return undefined;
  if (!Array.isArray(queues) || queues.length > 1_000 || !queues.every((q) => typeof q === 'string' && QUEUE.test(q)))
    return undefined;
  if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint)) return undefined;
  if (tasks !== undefined && (!Array.isArray(tasks) || !tasks.every((name) => isShortString(name, 1_024))))
    return undefined;
  if (typeof host !== 'string' || !HOST.test(host) || !Number.isSafeInteger(pid)) return undefined;
  return {
    instance,
    queues: queues as string[],
    fingerprint,
    tasks: tasks as string[] | undefined,
    host,
    pid: pid as number,
  };
}
