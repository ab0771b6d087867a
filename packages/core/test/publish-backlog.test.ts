import { describe, expect, it } from 'vitest';
import { createQueue, TaskRegistry } from '../src/index.js';
import { isolatedPerTest } from './support/isolated.js';
import { withChannel } from '../../../test-support/rabbit.js';

describe('amqp: publishes made before the connection is open', () => {
  const { broker, stops } = isolatedPerTest();

  it('20,000 submits made at once, before the first connect, are all confirmed and stored in submit order', async () => {
    async function noop(n: number) {
      return n;
    }
    const registry = new TaskRegistry().add('backlog.noop', noop);
    const queueName = broker.queue('backlog');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
    stops.push(() => queue.close());

    // No socket yet: every one of these waits in the publisher until the connection and its channel are open.
    const submits = Array.from({ length: 20_000 }, (_, i) => queue.submit(noop, i));
    const handles = await Promise.all(submits);
    expect(new Set(handles.map((h) => h.id)).size).toBe(20_000);

    const stored = await withChannel(async (channel) => {
      const { messageCount } = await channel.checkQueue(broker.physical(queueName));
      const first: string[] = [];
      for (let i = 0; i < 3; i++) {
        const message = await channel.get(broker.physical(queueName), { noAck: false });
        if (message) first.push(String(message.properties.messageId));
      }
      channel.nackAll(true);
      return { messageCount, first };
    });
    expect(stored.messageCount).toBe(20_000);
    expect(stored.first).toEqual(handles.slice(0, 3).map((h) => h.id));
  });
});
