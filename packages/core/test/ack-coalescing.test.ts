import type { Channel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createQueue, createWorker, silentLogger, TaskRegistry } from '../src/index.js';
import { AckCoalescer } from '../src/transports/amqp/ack-coalescer.js';
import { sleep, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';

/** What the coalescer sent, in order: `ack 7`, `ack 7 multiple`, `nack 3`. */
function recordingChannel(): { channel: Channel; frames: string[] } {
  const frames: string[] = [];
  const channel = {
    ack: (message: ConsumeMessage, multiple?: boolean) =>
      frames.push(`ack ${message.fields.deliveryTag}${multiple ? ' multiple' : ''}`),
    nack: (message: ConsumeMessage, multiple?: boolean, requeue?: boolean) =>
      frames.push(`nack ${message.fields.deliveryTag}${multiple ? ' multiple' : ''}${requeue ? ' requeue' : ''}`),
  } as unknown as Channel;
  return { channel, frames };
}

const message = (tag: number) => ({ fields: { deliveryTag: tag } }) as ConsumeMessage;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('acks of a consuming channel are coalesced', () => {
  it('deliveries finished in one turn go out as one multiple ack at its end; nothing before', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new AckCoalescer(channel, (error) => {
      throw error;
    });
    for (let tag = 1; tag <= 5; tag++) acks.delivered(message(tag));
    for (const tag of [2, 1, 4, 3, 5]) acks.ack(message(tag));
    expect(frames).toEqual([]);
    await turn();
    expect(frames).toEqual(['ack 5 multiple']);
  });

  it('a delivery still running ends the run: multiple never covers it; those behind it are acked one by one', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new AckCoalescer(channel, () => {});
    for (let tag = 1; tag <= 6; tag++) acks.delivered(message(tag));
    for (const tag of [1, 2, 4, 6]) acks.ack(message(tag));
    await turn();
    expect(frames).toEqual(['ack 2 multiple', 'ack 4', 'ack 6']);
    // 3 finishes later: alone at the head, a single ack; then 5 behind the settled ones.
    acks.ack(message(3));
    await turn();
    acks.ack(message(5));
    await turn();
    expect(frames.slice(3)).toEqual(['ack 3', 'ack 5']);
  });

  it('a requeue goes out at once and is never covered by a later multiple ack; a second settle of a tag is ignored', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new AckCoalescer(channel, () => {});
    for (let tag = 1; tag <= 4; tag++) acks.delivered(message(tag));
    acks.ack(message(1));
    acks.requeue(message(2));
    acks.ack(message(3));
    acks.ack(message(3));
    acks.requeue(message(3));
    expect(frames).toEqual(['nack 2 requeue']);
    await turn();
    // 2 is settled already: the run 1..3 is one frame, and 4 still runs.
    expect(frames).toEqual(['nack 2 requeue', 'ack 3 multiple']);
  });

  it('flush sends what is queued at once (before a channel closes); discard drops it (the channel is gone)', async () => {
    const { channel, frames } = recordingChannel();
    const acks = new AckCoalescer(channel, () => {});
    acks.delivered(message(1));
    acks.delivered(message(2));
    acks.ack(message(1));
    acks.flush();
    expect(frames).toEqual(['ack 1']);
    acks.ack(message(2));
    acks.discard();
    await turn();
    expect(frames).toEqual(['ack 1']);
  });

  it('a channel error on send is reported, not thrown into the worker', async () => {
    const errors: unknown[] = [];
    const channel = {
      ack: () => {
        throw new Error('Channel closed');
      },
    } as unknown as Channel;
    const acks = new AckCoalescer(channel, (error) => errors.push(error));
    acks.delivered(message(1));
    acks.ack(message(1));
    await turn();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('Channel closed');
  });
});

describe('coalesced acks on RabbitMQ', () => {
  const { broker, stops } = isolatedPerTest();

  it('a worker stopped while one task hangs: the tasks that finished behind it are acked, the hanging one goes back to its queue', async () => {
    let release: (() => void) | undefined;
    const finished: number[] = [];
    async function hangs(): Promise<void> {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    }
    async function quick(n: number): Promise<void> {
      finished.push(n);
    }
    const registry = new TaskRegistry().add('acks.hangs', hangs).add('acks.quick', quick);
    const queueName = broker.queue('acks');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
    stops.push(() => queue.close());
    await queue.submit(hangs);
    await queue.submitMany(
      quick,
      Array.from({ length: 50 }, (_, n): [number] => [n]),
    );
    const worker = createWorker({
      registry,
      transport: broker.amqp(),
      queues: [queueName],
      concurrency: 100,
      logger: silentLogger,
    });
    await worker.start();
    await waitFor(() => finished.length === 50 && release !== undefined, 'the 50 quick tasks, the hanging one started');
    await sleep(50);
    // Stopping gives up on the hanging task after the timeout: its message is settled with the broker as not done.
    await worker.stop({ timeout: 300 });
    release?.();
    // Exactly the hanging task is back: the acks of the others reached the broker, and none covered it.
    await waitFor(async () => (await broker.depth(queueName)) === 1, 'the hanging task back in its queue', 10_000);
    await sleep(200);
    expect(await broker.depth(queueName)).toBe(1);
    expect(new Set(finished).size).toBe(50);
  });
});
