import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { memory } from '../src/index.js';
import { DELAY_LEVELS, RABBIT_URL, topologyOf, withChannel } from '../../../test-support/rabbit.js';
import { testBroker } from './support/rabbit.js';

/** Which of these queues and exchanges exist, by passive declares (a 404 closes its channel: one channel each). */
async function existing(names: ReadonlyArray<['queue' | 'exchange', string]>): Promise<string[]> {
  const connection = await connect(RABBIT_URL);
  connection.on('error', () => {});
  try {
    const found: string[] = [];
    for (const [kind, name] of names) {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      try {
        if (kind === 'queue') await channel.checkQueue(name);
        else await channel.checkExchange(name);
        found.push(`${kind} ${name}`);
        await channel.close();
      } catch (error) {
        if (!String(error).includes('404')) throw error;
      }
    }
    return found;
  } finally {
    await connection.close();
  }
}

/** Every queue and exchange core's topology gives a prefix with these logical queues. */
function everythingOf(prefix: string, queues: readonly string[]): Array<['queue' | 'exchange', string]> {
  const topology = topologyOf(prefix);
  const names: Array<['queue' | 'exchange', string]> = queues.map((queue) => ['queue', topology.physical(queue)]);
  names.push(['queue', topology.deadQueue], ['exchange', topology.deliveryExchange]);
  names.push(['queue', topology.heldQueue], ['exchange', topology.submitExchange], ['exchange', topology.heldExchange]);
  for (let level = 0; level < DELAY_LEVELS; level++)
    names.push(['queue', topology.delayQueue(level)], ['exchange', topology.delayExchange(level)]);
  return names;
}

describe('the shared test broker (test-support/broker.ts)', () => {
  const broker = testBroker('tqself');
  afterAll(() => broker.cleanup());

  it('cleanup() closes its transports and deletes every queue and exchange the prefix declared, then moves to a fresh prefix', async () => {
    const prefix = broker.prefix;
    const transport = broker.amqp();
    const mem = broker.track(memory());
    const work = broker.queue('work');
    const fixed = broker.adopt(`fixed-${randomUUID().slice(0, 6)}`);
    // A delayed publish declares the delay ladder and the delivery exchange; the dead-letter store declares its queue.
    for (const queue of [work, fixed])
      await transport.publish({ id: randomUUID(), queue, body: Buffer.from('{}'), headers: {}, delayMs: 60_000 });
    await transport.publish({ id: randomUUID(), queue: work, body: Buffer.from('{}'), headers: {} });
    expect(await transport.dead.count()).toBe(0);
    expect(await broker.depth(work)).toBe(1);
    expect(broker.physical(work)).toBe(`${prefix}.q.${work}`);
    const names = everythingOf(prefix, [work, fixed]);
    expect(await existing(names)).toEqual(names.map(([kind, name]) => `${kind} ${name}`));

    await broker.cleanup();

    expect(await existing(names)).toEqual([]);
    await expect(
      transport.publish({ id: randomUUID(), queue: work, body: Buffer.from('{}'), headers: {} }),
    ).rejects.toThrow();
    await expect(
      mem.publish({ id: randomUUID(), queue: work, body: Buffer.from('{}'), headers: {} }),
    ).rejects.toThrow();
    expect(broker.prefix).not.toBe(prefix);
    expect(broker.prefix).toMatch(/^tqself-[0-9a-f]{8}$/);
  });

  it('depth() and drainQueue() read its queues; drainDead() takes the letters of its dead-letter queue', async () => {
    const transport = broker.amqp();
    const queue = broker.queue('drain');
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await transport.publish({ id, queue, body: Buffer.from('{}'), headers: {} });
    expect(await broker.depth(queue)).toBe(2);
    expect(await broker.drainQueue(queue, 200)).toEqual(ids);
    expect(await broker.drainDead()).toEqual([]);
    await withChannel(async (channel) => {
      await channel.assertQueue(broker.deadQueue, { durable: true });
      channel.sendToQueue(broker.deadQueue, Buffer.from('{}'), {
        messageId: 'letter-1',
        headers: { 'x-taskq-reason': 'test' },
      });
    });
    expect(await broker.drainDead()).toEqual([{ id: 'letter-1', headers: { 'x-taskq-reason': 'test' } }]);
  });
});
