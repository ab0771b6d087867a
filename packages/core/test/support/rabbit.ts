import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { amqp, type AmqpTransport, silentLogger } from '../../src/index.js';

/** The shared test broker; tests never stop it or touch queues they did not create. */
export const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A queue name no other test uses. */
export function uniqueQueue(label: string): string {
  return `test-${label}-${randomUUID().slice(0, 8)}`;
}

/** An amqp transport for tests: quiet, and quick to give up when the broker is missing (so CI fails, never hangs). */
export function testAmqp(overrides: Parameters<typeof amqp>[0] = {}): AmqpTransport {
  return amqp({ url: RABBIT_URL, logger: silentLogger, connectTimeout: 10_000, publishTimeout: 15_000, ...overrides });
}

/** Deletes the physical queues behind these logical names (prefix `taskq`). */
export async function deleteQueues(logical: readonly string[], prefix = 'taskq'): Promise<void> {
  const connection = await connect(RABBIT_URL);
  try {
    const channel = await connection.createChannel();
    for (const name of logical) await channel.deleteQueue(`${prefix}.q.${name}`);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Messages ready in a logical queue, read with a passive declare; 0 when the queue was never declared. */
export async function queueDepth(logical: string, prefix = 'taskq'): Promise<number> {
  const connection = await connect(RABBIT_URL);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    try {
      const { messageCount } = await channel.checkQueue(`${prefix}.q.${logical}`);
      await channel.close();
      return messageCount;
    } catch (error) {
      if (String(error).includes('404')) return 0;
      throw error;
    }
  } finally {
    await connection.close();
  }
}
