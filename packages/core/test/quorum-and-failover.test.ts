import { connect } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { amqp, createQueue, createWorker, errorCode, TaskRegistry } from '../src/index.js';
import { eventually, waitFor } from '../../../test-support/wait.js';
import { topologyOf, withChannel } from '../../../test-support/rabbit.js';
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

  it("queueType 'quorum': rate-limit tokens handed back again and again stay in circulation (no delivery limit on the token queue)", async () => {
    const started: number[] = [];
    async function limited(n: number) {
      started.push(n);
    }
    const registry = new TaskRegistry().add('quorum.limited', limited, { rateLimit: { max: 3, per: '1m' } });
    const limit = broker.adoptRateLimit('task.quorum.limited');
    const options = { queueType: 'quorum' as const, deliveryLimit: 2 };
    const worker = createWorker({ registry, transport: broker.amqp(options) });
    const queue = createQueue({ registry, transport: broker.amqp(options) });
    stops.push(
      () => queue.close(),
      () => worker.stop({ timeout: 2_000 }),
    );
    await worker.start();
    await queue.submit(limited, 1);
    await waitFor(() => started.length === 1, 'the limited task');
    const tokens = topologyOf(broker.prefix).rateQueue(limit);
    // The two unused tokens wait in their queue; a worker that gets one while nobody waits hands it back (nack), as
    // does a channel closing with a token in hand. Here: handed back ten times each.
    await eventually(
      () => withChannel(async (channel) => (await channel.checkQueue(tokens)).messageCount === 2),
      'two tokens ready',
    );
    await worker.stop({ timeout: 2_000 });
    const handedBack = await withChannel(async (channel) => {
      let count = 0;
      for (let i = 0; i < 20; i++) {
        const token = await channel.get(tokens, { noAck: false });
        if (token === false) break;
        channel.nack(token, false, true);
        count++;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { count, ready: (await channel.checkQueue(tokens)).messageCount };
    });
    const dead = await broker.amqp(options).dead.count();
    console.log(
      `[quorum] rate-limit tokens handed back ${handedBack.count} times: ready=${handedBack.ready} dead=${dead}`,
    );
    expect(handedBack.count).toBe(20);
    expect(handedBack.ready).toBe(2);
    expect(dead).toBe(0);
  });

  it("queueType 'quorum': delayed tasks whose queue was deleted meanwhile go to the dead-letter queue (unroutable) and hold up no other delayed task", async () => {
    const done: string[] = [];
    async function later(label: string) {
      done.push(label);
    }
    const registry = new TaskRegistry().add('quorum.later', later);
    const gone = broker.queue('gone');
    const live = broker.queue('live');
    const options = { queueType: 'quorum' as const };
    const queue = createQueue({ registry, transport: broker.amqp(options) });
    const worker = createWorker({ registry, transport: broker.amqp(options), queues: [live] });
    stops.push(
      () => queue.close(),
      () => worker.stop({ timeout: 2_000 }),
    );
    await worker.start();
    // The delay ladder declared first, so that the tasks below wait in it.
    await queue.with({ queue: live, delay: 20 }).submit(later, 'warm-up');
    // 40: more than the broker's at-least-once dead-letter worker holds unconfirmed per queue (32). Without an
    // alternate route they would be retried every few minutes, and every delayed task behind them would wait.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => queue.with({ queue: gone, delay: 1_500 }).submit(later, `gone-${i}`)),
    );
    await withChannel((channel) => channel.deleteQueue(broker.physical(gone)));
    await queue.with({ queue: live, delay: 2_000 }).submit(later, 'live');
    await waitFor(() => done.includes('live'), 'the delayed task of the live queue', 15_000);
    const store = broker.amqp(options).dead;
    await eventually(async () => (await store.count()) === 40, 'the 40 unroutable delayed tasks dead-lettered');
    const letters = await store.list(40);
    console.log(
      `[quorum] 40 delayed tasks for a deleted queue: dead-lettered=${letters.length} (${letters[0].reason}, queue ${letters[0].queue === gone ? 'named' : 'unknown'}); the live queue's delayed task ran`,
    );
    expect(letters.every((letter) => letter.reason === 'unroutable' && letter.queue === gone)).toBe(true);
    // Sent back, one lands in its queue again (declared anew).
    expect(await store.retry(letters[0].id)).toBe(1);
    await eventually(async () => (await broker.depth(gone)) === 1, 'the retried letter in its queue');
  });

  it("queueType 'quorum': a retry right after a list finds the letter the list showed (list waits until its letters are back)", async () => {
    const transport = broker.amqp({ queueType: 'quorum' });
    const store = transport.dead;
    const target = broker.queue('handed-back');
    const letters = 30;
    expect(await store.count()).toBe(0); // declares the (quorum) dead-letter queue
    await withChannel(async (channel) => {
      for (let i = 0; i < letters; i++)
        channel.sendToQueue(broker.deadQueue, Buffer.from(`letter ${i}`), {
          messageId: `letter-${i}`,
          headers: { 'x-taskq-queue': target, 'x-taskq-dead-reason': 'test' },
        });
    });
    await eventually(async () => (await store.count()) === letters, 'the letters in the dead-letter queue');
    // A quorum queue takes back what a closed channel held through its log, after the close: without the wait, the
    // retry below could find the queue empty.
    for (let round = 0; round < 5; round++) {
      const listed = await store.list(letters);
      expect(listed).toHaveLength(letters - round);
      expect(await store.count()).toBe(letters - round);
      expect(await store.retry(listed[listed.length - 1 - round].id)).toBe(1);
    }
    expect(await store.count()).toBe(letters - 5);
    await eventually(async () => (await broker.depth(target)) === 5, 'the five retried letters in their queue');
  });

  it("maxPriority with queueType 'quorum' is refused at construction, naming both options", () => {
    let error: unknown;
    try {
      amqp({ url: 'amqp://127.0.0.1', queueType: 'quorum', maxPriority: 5 });
    } catch (caught) {
      error = caught;
    }
    expect(errorCode(error)).toBe('TASKQ_INVALID_OPTION');
    expect((error as Error).message).toMatch(/maxPriority/);
    expect((error as Error).message).toMatch(/queueType 'classic'/);
    expect(() => amqp({ url: 'amqp://127.0.0.1', queueType: 'classic', maxPriority: 5 })).not.toThrow();
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
