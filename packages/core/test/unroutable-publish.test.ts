import { connect } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createQueue, createWorker, TaskRegistry } from '../src/index.js';
import { isolatedPerTest } from './support/isolated.js';
import { RABBIT_URL } from './support/rabbit.js';
import { waitFor } from '../../../test-support/wait.js';

describe('amqp: a confirmed publish is a stored message', () => {
  const { broker, stops } = isolatedPerTest();

  it('a queue deleted under a running publisher is declared again: the next task is not confirmed into nowhere', async () => {
    const done: string[] = [];
    async function record(label: string) {
      done.push(label);
    }
    const registry = new TaskRegistry().add('unroutable.record', record);
    const queueName = broker.queue('deleted');
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
    stops.push(() => queue.close());
    await queue.submit(record, 'before');

    // An operator (or a cleanup script) deletes the queue; the publisher still believes it declared it.
    const connection = await connect(RABBIT_URL);
    const channel = await connection.createChannel();
    await channel.deleteQueue(broker.physical(queueName));
    await connection.close();

    // Without mandatory publishing the broker would confirm this message and drop it.
    await queue.submit(record, 'after the delete');
    const worker = createWorker({ registry, transport: broker.amqp(), queues: [queueName] });
    stops.push(() => worker.stop({ timeout: 2_000 }));
    await worker.start();
    await waitFor(() => done.includes('after the delete'), 'the task submitted after the delete');
    expect(done).toEqual(['after the delete']);
  });
});
