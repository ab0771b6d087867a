import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errorCode } from '../../src/index.js';
import { channelCounts } from '../../src/transports/amqp/amqp-transport.js';
import { BrokerNode } from '../support/broker-node.js';
import { testBroker } from '../support/rabbit.js';
import { eventually } from '../../../../test-support/wait.js';
import { withChannel } from '../../../../test-support/rabbit.js';

const MAX_MESSAGE_BYTES = 1_048_576;

// A broker limit set in rabbitmq.conf: a throw-away node, never the shared broker.
describe("fault: the broker's max_message_size refuses a message (406)", () => {
  let node: BrokerNode;
  const broker = testBroker();

  beforeAll(async () => {
    node = await BrokerNode.start({ config: [`max_message_size = ${MAX_MESSAGE_BYTES}`] });
  });

  afterAll(async () => {
    await node?.destroy();
  });

  afterEach(async () => {
    await broker.cleanup(node.url);
  });

  it('the message over the limit fails alone with TASKQ_UNPUBLISHABLE_MESSAGE, is not sent again, and the publishes beside it are confirmed', async () => {
    const transport = broker.amqp({ url: node.url, publishTimeout: 20_000 });
    const queue = broker.queue('max-size');
    const message = (bytes: number) => ({ id: randomUUID(), queue, body: Buffer.alloc(bytes, 'a'), headers: {} });
    const first = message(10);
    await transport.publish(first);

    const started = Date.now();
    const batch = [message(100), message(2 * MAX_MESSAGE_BYTES), message(100), message(100)];
    const results = await Promise.allSettled(batch.map((m) => transport.publish(m)));
    const refusedAfterMs = Date.now() - started;
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(errorCode((results[1] as PromiseRejectedResult).reason)).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
    expect((results[1] as PromiseRejectedResult).reason.message).toContain(`max_message_size of ${MAX_MESSAGE_BYTES}`);

    // Learned: the next one over the limit is refused before it reaches the broker.
    const again = await transport.publish(message(MAX_MESSAGE_BYTES + 1)).catch((error: unknown) => error);
    expect(errorCode(again)).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
    const last = message(MAX_MESSAGE_BYTES - 1_000);
    await transport.publish(last);

    const depth = () =>
      withChannel(async (channel) => (await channel.checkQueue(broker.physical(queue))).messageCount, node.url);
    await eventually(async () => (await depth()) >= 5, 'the five messages under the limit', 10_000);
    // The broker closes the channel on the 406: a publish beside it whose confirm was lost with the channel is sent
    // again (at-least-once), so a duplicate is allowed and counted; a confirmed one missing, or the refused one, is not.
    const ids = await withChannel(async (channel) => {
      const seen: string[] = [];
      for (;;) {
        const got = await channel.get(broker.physical(queue), { noAck: true });
        if (got === false) return seen;
        seen.push(String(got.properties.messageId));
      }
    }, node.url);
    const confirmed = [first, batch[0], batch[2], batch[3], last].map((m) => m.id);
    expect([...new Set(ids)].sort()).toEqual([...confirmed].sort());
    expect(ids).not.toContain(batch[1].id);
    expect(channelCounts(transport).publish.channels).toBe(1);
    console.log(
      `[max_message_size] refused after ${refusedAfterMs} ms (publishTimeout 20000); queue holds the 5 others` +
        ` (duplicates=${ids.length - new Set(ids).size}); publish channels=${channelCounts(transport).publish.channels}`,
    );
  });
});
