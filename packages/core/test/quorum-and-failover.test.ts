import { connect } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { createQueue, createWorker, TaskRegistry } from '../src/index.js';
import { eventually, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import { RABBIT_URL } from './support/rabbit.js';

describe('amqp: quorum queues and failover URLs', () => {
  const { broker, stops } = isolatedPerTest();

  it("queueType 'quorum' runs tasks, and a poison message past the delivery limit lands in the dead-letter queue instead of being dropped", async () => {
    const done: number[] = [];
    async function work(n: number) {
      done.push(n);
    }
    const registry = new TaskRegistry().add('quorum.work', work);
    const queueName = broker.queue('quorum');
    const options = { queueType: 'quorum' as const, deliveryLimit: 2 };
    const queue = createQueue({ registry, transport: broker.amqp(options), defaults: { queue: queueName } });
    stops.push(() => queue.close());
    await queue.submitMany(work, [[1], [2], [3]]);

    // The poison: every consumer that gets it dies (here: nacks it back), over and over.
    const connection = await connect(RABBIT_URL);
    const channel = await connection.createChannel();
    let deliveries = 0;
    await channel.prefetch(1);
    await channel.consume(broker.physical(queueName), (message) => {
      if (!message) return;
      deliveries++;
      channel.nack(message, false, true);
    });
    const transport = broker.amqp(options);
    await eventually(
      async () => (await transport.dead.count()) === 3,
      'three poison messages dead-lettered by the broker',
      15_000,
    );
    await connection.close();
    const letters = await transport.dead.list();
    expect(letters.map((letter) => letter.reason)).toEqual(['delivery-limit', 'delivery-limit', 'delivery-limit']);
    expect(letters.every((letter) => letter.queue === queueName && letter.task === 'quorum.work')).toBe(true);
    expect(letters[0].deadAt).toBeInstanceOf(Date);
    console.log(
      `[quorum] delivery limit 2: ${deliveries} deliveries of 3 poison messages, dead-lettered=${letters.length}, dropped=0`,
    );

    // Sent back, they run on a healthy worker (and x-delivery-count does not travel with them).
    const worker = createWorker({ registry, transport, queues: [queueName] });
    stops.push(() => worker.stop({ timeout: 2_000 }));
    await worker.start();
    expect(await transport.dead.retry('all')).toBe(3);
    await waitFor(() => done.length === 3, 'the three retried tasks');
    expect(done.sort()).toEqual([1, 2, 3]);
  });

  it('with several URLs, a dead first broker fails over to the next one', async () => {
    const done: string[] = [];
    async function work(label: string) {
      done.push(label);
    }
    const registry = new TaskRegistry().add('failover.work', work);
    const queueName = broker.queue('failover');
    const urls = ['amqp://guest:guest@127.0.0.1:1', RABBIT_URL];
    const queue = createQueue({
      registry,
      transport: broker.amqp({ urls, reconnect: { initialDelay: 20, maxDelay: 100 } }),
      defaults: { queue: queueName },
    });
    const worker = createWorker({
      registry,
      transport: broker.amqp({ urls, reconnect: { initialDelay: 20, maxDelay: 100 } }),
      queues: [queueName],
    });
    stops.push(
      () => queue.close(),
      () => worker.stop({ timeout: 2_000 }),
    );
    await worker.start();
    await queue.submit(work, 'via the second URL');
    await waitFor(() => done.length === 1, 'the task');
  });
});
