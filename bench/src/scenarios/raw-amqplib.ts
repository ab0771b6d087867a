/**
 * The limit: amqplib used directly, with the settings taskq promises
 * (durable queue, persistent messages, publisher confirms, prefetch = P, one
 * ack per message after the task ran). Anything taskq does on top costs
 * throughput relative to this.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import { now } from '../clock.js';
import { AMQP_URL } from '../config.js';
import { add } from '../tasks.js';
import type { Admin, Consumer, Driver, Producer } from './types.js';

/** Durable, like taskq's queues; no other arguments (classic queue, the broker default). */
const QUEUE_OPTIONS = { durable: true } as const;

/**
 * What goes on the wire. `minimal` is the limit: the task name and its
 * arguments. `taskq` copies taskq's wire format (envelope version 3
 * `{ v, task, args }`, the task id as the message id and the submit time in
 * that UUIDv7, published to a direct exchange with an alternate exchange and
 * a held queue, not `mandatory`, no headers and no content type on a first
 * attempt; see core's envelope.ts, publisher.ts and topology.ts) without
 * taskq's code: the row that uses it shows how much of the gap to the limit is
 * the format (broker and codec work) and how much is the engine.
 */
type WireFormat = 'minimal' | 'taskq';

interface Outgoing {
  readonly body: Buffer;
  readonly options: Options.Publish;
}

function outgoing(format: WireFormat, sentAt: number): Outgoing {
  // A message id per message, as taskq sets one (the task id), so both pay for it.
  const id = randomUUID();
  if (format === 'minimal') {
    return {
      body: Buffer.from(JSON.stringify({ task: 'bench.add', args: [1, 2, sentAt] })),
      options: { persistent: true, contentType: 'application/json', messageId: id },
    };
  }
  return {
    body: Buffer.from(JSON.stringify({ v: 3, task: 'bench.add', args: [1, 2, sentAt] })),
    options: { persistent: true, messageId: id },
  };
}

/** taskq's route for a work queue: a direct exchange whose alternate exchange keeps, in a held queue, what no queue took. */
function submitExchangeOf(queue: string): { exchange: string; alternate: string; held: string } {
  return { exchange: `${queue}.submit`, alternate: `${queue}.ae`, held: `${queue}.held` };
}

class RawProducer implements Producer {
  constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
    private readonly queue: string,
    private readonly format: WireFormat,
    private readonly exchange: string,
  ) {}

  #send(body: Buffer, options: Options.Publish, confirmed?: (error: unknown) => void): boolean {
    return this.exchange === ''
      ? this.channel.sendToQueue(this.queue, body, options, confirmed)
      : this.channel.publish(this.exchange, this.queue, body, options, confirmed);
  }

  /** Publishes and waits for this message's own confirm (the naive producer awaits this each time). */
  one(sentAt: number): Promise<void> {
    const { body, options } = outgoing(this.format, sentAt);
    return new Promise((resolve, reject) => {
      this.#send(body, options, (error: unknown) =>
        error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
      );
    });
  }

  /** Publishes a window of `count` messages, then awaits all confirms at once. */
  async many(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      // amqplib buffers anyway; waiting for 'drain' keeps the socket buffer bounded.
      const { body, options } = outgoing(this.format, now());
      if (!this.#send(body, options)) {
        await once(this.channel, 'drain');
      }
    }
    await this.channel.waitForConfirms();
  }

  async close(): Promise<void> {
    await this.channel.close();
    await this.connection.close();
  }
}

function rawDriverFor(system: 'raw' | 'raw-taskq-format', format: WireFormat): Driver {
  return {
    system,
    async openProducer(queue) {
      const connection = await amqp.connect(AMQP_URL);
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, QUEUE_OPTIONS);
      if (format === 'minimal') return new RawProducer(connection, channel, queue, format, '');
      const { exchange, alternate, held } = submitExchangeOf(queue);
      await channel.assertExchange(alternate, 'fanout', { durable: true });
      await channel.assertQueue(held, QUEUE_OPTIONS);
      await channel.bindQueue(held, alternate, '');
      await channel.assertExchange(exchange, 'direct', { durable: true, alternateExchange: alternate });
      await channel.bindQueue(queue, exchange, queue);
      return new RawProducer(connection, channel, queue, format, exchange);
    },
    startConsumer,
  };
}

export const rawDriver = rawDriverFor('raw', 'minimal');
export const rawTaskqFormatDriver = rawDriverFor('raw-taskq-format', 'taskq');

/** Both wire formats are consumed alike: parse the JSON body, run the task, ack. */
async function startConsumer(queue: string, concurrency: number, onCompleted: () => void): Promise<Consumer> {
  // Its own connection, as taskq's worker has (RabbitMQ's advice for consumers).
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  await channel.assertQueue(queue, QUEUE_OPTIONS);
  await channel.prefetch(concurrency);
  const { consumerTag } = await channel.consume(
    queue,
    (message: ConsumeMessage | null) => {
      if (message === null) return; // the broker cancelled the consumer (queue deleted)
      const { args } = JSON.parse(message.content.toString()) as { args: [number, number, number] };
      add(...args);
      channel.ack(message);
      onCompleted();
    },
    { noAck: false },
  );
  return {
    async stop() {
      await channel.cancel(consumerTag);
      await channel.close();
      await connection.close();
    },
  };
}

/** Parent-side checks and cleanup over one connection; a channel per call, since a 404 closes a channel. */
export async function openAmqpAdmin(
  physicalName: (queue: string) => readonly string[],
  url = AMQP_URL,
  exchanges: readonly string[] | ((queue: string) => readonly string[]) = [],
): Promise<Admin> {
  const connection = await amqp.connect(url);
  const openChannel = async () => {
    const created = await connection.createChannel();
    // A failed check (404) closes the channel with an 'error' event; the call's rejection reports it.
    created.on('error', () => undefined);
    return created;
  };
  return {
    async backlog(queue) {
      const ch = await openChannel();
      try {
        const [main] = physicalName(queue);
        if (main === undefined) return 0;
        return (await ch.checkQueue(main)).messageCount;
      } finally {
        await ch.close().catch(() => undefined);
      }
    },
    async remove(queue) {
      const ch = await openChannel();
      try {
        // Only the names this bench generated for this run; deleting a missing queue is a no-op.
        for (const name of physicalName(queue)) await ch.deleteQueue(name);
        for (const name of typeof exchanges === 'function' ? exchanges(queue) : exchanges)
          await ch.deleteExchange(name);
      } finally {
        await ch.close().catch(() => undefined);
      }
    },
    close: () => connection.close(),
  };
}

export function openRawAdmin(): Promise<Admin> {
  // The raw-taskq-format rows' exchanges and held queue too (deleting what does not exist is a no-op).
  return openAmqpAdmin(
    (queue) => [queue, submitExchangeOf(queue).held],
    AMQP_URL,
    (queue) => [submitExchangeOf(queue).exchange, submitExchangeOf(queue).alternate],
  );
}

/** The broker's version, from the connection's server properties. */
export async function rabbitmqVersion(): Promise<string> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const { product, version } = connection.connection.serverProperties;
    return `${product} ${version}`;
  } finally {
    await connection.close();
  }
}
