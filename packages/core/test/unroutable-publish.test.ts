import { connect } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createQueue, createWorker, currentTask, TaskRegistry } from '../src/index.js';
import { isolatedPerTest } from './support/isolated.js';
import { RABBIT_URL } from './support/rabbit.js';
import { eventually, waitFor } from '../../../test-support/wait.js';
import { topologyOf, withChannel } from '../../../test-support/rabbit.js';

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

  it.each(['classic', 'quorum'] as const)(
    'queueType %s: a task published while its queue does not exist waits in the held queue, then a worker declares the queue and it runs once, signature intact',
    async (queueType) => {
      const runs: Array<{ label: string; id: string }> = [];
      async function record(label: string) {
        runs.push({ label, id: currentTask().id });
      }
      const registry = new TaskRegistry().add('held.record', record);
      const queueName = broker.queue('held');
      const key = 'held-test-signing-key-0123456789abcdef';
      const queue = createQueue({
        registry,
        transport: broker.amqp({ queueType }),
        defaults: { queue: queueName },
        signingKey: key,
      });
      stops.push(() => queue.close());
      await queue.submit(record, 'declared');
      await withChannel((channel) => channel.deleteQueue(broker.physical(queueName)));

      // Confirmed, and kept: the submit exchange's alternate exchange put it in the held queue.
      const handle = await queue.submit(record, 'held');
      const held = topologyOf(broker.prefix).heldQueue;
      expect(await withChannel(async (channel) => (await channel.checkQueue(held)).messageCount)).toBe(1);

      const worker = createWorker({
        registry,
        transport: broker.amqp({ queueType }),
        queues: [queueName],
        signingKeys: key,
      });
      const dead: string[] = [];
      worker.on('dead', (event) => dead.push(event.reason));
      stops.push(() => worker.stop({ timeout: 2_000 }));
      await worker.start();
      await waitFor(() => runs.length === 1, 'the held task');
      expect(runs).toEqual([{ label: 'held', id: handle.id }]);
      await eventually(
        async () => (await withChannel(async (channel) => (await channel.checkQueue(held)).messageCount)) === 0,
        'the held queue emptied',
      );
      // Later tasks route straight to the queue again.
      await queue.submit(record, 'after');
      await waitFor(() => runs.length === 2, 'the task after');
      expect(dead).toEqual([]);
      expect(await broker.amqp({ queueType }).dead.count()).toBe(0);
    },
  );

  it('a message published to the submit exchange under a name that is no work queue is dead-lettered unroutable, not held forever', async () => {
    const registry = new TaskRegistry().add('held.noop', async () => {});
    const queueName = broker.queue('held-other');
    const worker = createWorker({ registry, transport: broker.amqp(), queues: [queueName] });
    stops.push(() => worker.stop({ timeout: 2_000 }));
    await worker.start();
    const t = topologyOf(broker.prefix);
    await withChannel(async (channel) => {
      channel.publish(t.submitExchange, 'not-a-queue-of-this-prefix', Buffer.from('{"v":3}'), { messageId: 'stray-1' });
    });
    const store = broker.amqp().dead;
    await eventually(async () => (await store.count()) === 1, 'the stray message dead-lettered');
    const [letter] = await store.list();
    expect(letter).toMatchObject({ id: 'stray-1', reason: 'unroutable', queue: undefined });
    expect(letter.error).toContain('not-a-queue-of-this-prefix');
  });
});
