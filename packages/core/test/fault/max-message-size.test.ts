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
    await transport.publish(message(10));

    const started = Date.now();
    const results = await Promise.allSettled(
      [message(100), message(2 * MAX_MESSAGE_BYTES), message(100), message(100)].map((m) => transport.publish(m)),
    );
    const refusedAfterMs = Date.now() - started;
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(errorCode((results[1] as PromiseRejectedResult).reason)).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
    expect((results[1] as PromiseRejectedResult).reason.message).toContain(`max_message_size of ${MAX_MESSAGE_BYTES}`);

    // Learned: the next one over the limit is refused before it reaches the broker.
    const again = await transport.publish(message(MAX_MESSAGE_BYTES + 1)).catch((error: unknown) => error);
    expect(errorCode(again)).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
    await transport.publish(message(MAX_MESSAGE_BYTES - 1_000));

    const depth = () =>
      withChannel(async (channel) => (await channel.checkQueue(broker.physical(queue))).messageCount, node.url);
    await eventually(async () => (await depth()) === 5, 'the five messages under the limit', 10_000);
    expect(channelCounts(transport).publish.channels).toBe(1);
    console.log(
      `[max_message_size] refused after ${refusedAfterMs} ms (publishTimeout 20000); queue holds the 5 others; publish channels=${channelCounts(transport).publish.channels}`,
    );
  });
});
