import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { type ChannelModel, connect } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/transports/amqp/coalesce-writes.js';
import { RABBIT_URL } from './support/rabbit.js';

/** Counts the writes that reach the socket's system calls (`_write` for one chunk, `_writev` for several). */
function countSocketWrites(model: ChannelModel): { readonly calls: number; readonly chunks: number } {
  const socket = (model as unknown as { connection: { stream: Socket } }).connection.stream;
  const counts = { calls: 0, chunks: 0 };
  const internals = socket as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (chunks: unknown[], ...rest: unknown[]) => void;
  };
  const write = internals._write.bind(socket);
  const writev = internals._writev.bind(socket);
  internals._write = (...args) => {
    counts.calls++;
    counts.chunks++;
    write(...args);
  };
  internals._writev = (chunks, ...rest) => {
    counts.calls++;
    counts.chunks += chunks.length;
    writev(chunks, ...rest);
  };
  return counts;
}

describe('amqp: frames of one turn leave in one write', () => {
  const opened: ChannelModel[] = [];
  const queues: string[] = [];

  afterEach(async () => {
    for (const model of opened.splice(0)) {
      const channel = await model.createChannel();
      for (const queue of queues) await channel.deleteQueue(queue);
      await model.close();
    }
    queues.length = 0;
  });

  async function publishTurn(coalesce: boolean, count: number) {
    const model = await connect(RABBIT_URL);
    opened.push(model);
    if (coalesce) expect(coalesceWrites(model)).toBe(true);
    const channel = await model.createConfirmChannel();
    const queue = `test-coalesce-${randomUUID().slice(0, 8)}`;
    queues.push(queue);
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    const counts = countSocketWrites(model);
    for (let i = 0; i < count; i++) channel.sendToQueue(queue, Buffer.from(`{"n":${i}}`), { messageId: String(i) });
    await channel.waitForConfirms();
    const { messageCount } = await channel.checkQueue(queue);
    await channel.close();
    return { ...counts, messageCount };
  }

  it('100 publishes made in one turn go out in a handful of writes, all of them stored', async () => {
    const plain = await publishTurn(false, 100);
    const coalesced = await publishTurn(true, 100);
    // Without it every publish is its own write (amqplib writes one frame set per message).
    expect(plain.calls).toBeGreaterThanOrEqual(100);
    expect(coalesced.calls).toBeLessThanOrEqual(5);
    expect(coalesced.chunks).toBeGreaterThanOrEqual(100);
    expect(coalesced.messageCount).toBe(100);
    console.log(`[coalesced writes] 100 publishes: ${plain.calls} writes plain, ${coalesced.calls} coalesced`);
  });

  it('a lone publish still goes out in its own turn: its confirm comes back', async () => {
    const lone = await publishTurn(true, 1);
    expect(lone.messageCount).toBe(1);
    expect(lone.calls).toBeGreaterThanOrEqual(1);
  });

  it('leaves a connection without a socket it can cork as it is', () => {
    expect(coalesceWrites({} as ChannelModel)).toBe(false);
    expect(coalesceWrites({ connection: { stream: { write() {} } } } as unknown as ChannelModel)).toBe(false);
  });
});
