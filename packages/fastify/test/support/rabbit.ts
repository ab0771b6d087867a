import { randomUUID } from 'node:crypto';
import { amqp, type AmqpTransport, silentLogger } from '@taskq/core';
import { connect } from 'amqplib';

/** The shared test broker; tests only touch queues they created. */
export const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A logical queue name no other test uses. */
export function uniqueQueue(label: string): string {
  return `test-fastify-${label}-${randomUUID().slice(0, 8)}`;
}

/** Quiet, and quick to fail when the broker is missing (tests fail, never skip or hang). */
export function testAmqp(): AmqpTransport {
  return amqp({ url: RABBIT_URL, logger: silentLogger, connectTimeout: 10_000, publishTimeout: 15_000 });
}

async function withChannel<T>(fn: (channel: Awaited<ReturnType<Awaited<ReturnType<typeof connect>>['createChannel']>>) => Promise<T>): Promise<T> {
  const connection = await connect(RABBIT_URL);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    const result = await fn(channel);
    await channel.close().catch(() => {});
    return result;
  } finally {
    await connection.close();
  }
}

/** Deletes the physical queues behind these logical names. */
export async function deleteQueues(logical: readonly string[]): Promise<void> {
  if (logical.length === 0) return;
  await withChannel(async (channel) => {
    for (const name of logical) await channel.deleteQueue(`taskq.q.${name}`);
  });
}

/** Ready messages in a logical queue; 0 when it was never declared. */
export async function queueDepth(logical: string): Promise<number> {
  try {
    return await withChannel(async (channel) => (await channel.checkQueue(`taskq.q.${logical}`)).messageCount);
  } catch (error) {
    if (String(error).includes('404')) return 0;
    throw error;
  }
}

/** Takes one raw message body off a logical queue (acked: it is gone afterwards), or undefined. */
export async function takeRawMessage(logical: string): Promise<string | undefined> {
  return withChannel(async (channel) => {
    const message = await channel.get(`taskq.q.${logical}`, { noAck: true });
    return message === false ? undefined : message.content.toString('utf8');
  });
}
