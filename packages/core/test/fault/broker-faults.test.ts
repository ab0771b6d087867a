import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createQueue, createWorker, errorCode } from '../../src/index.js';
import { registry, work } from '../fixtures/fault/tasks.js';
import { BrokerNode } from '../support/broker-node.js';
import { type AmqpTestBroker, testBroker } from '../support/rabbit.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { sleep, waitFor } from '../../../../test-support/wait.js';
import { CapturingLogger, formatCounts, runLoad } from './load.js';

// Faults of the broker and of the network, on a throw-away RabbitMQ node (never the shared one).
describe('fault: broker restarts, forced closes, half-open connections, memory alarm', () => {
  let node: BrokerNode;
  let broker: AmqpTestBroker;
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    node = await BrokerNode.start();
  });

  afterAll(async () => {
    await node?.destroy();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await broker?.cleanup(node.url);
  });

  function isolated(): AmqpTestBroker {
    broker = testBroker();
    return broker;
  }

  it('rabbitmqctl close_all_connections (twice) while 5,000 tasks are submitted and consumed: every confirmed task runs', async () => {
    const b = isolated();
    let closes = 0;
    const logs = { submitter: new CapturingLogger(), consumer: new CapturingLogger() };
    const counts = await runLoad({
      total: 5_000,
      // About 200 submits a second: the load lasts ~25 s. rabbitmqctl needs ~1 s to act on a quiet machine and
      // several on a busy one; both closes must strike before the last submit is confirmed.
      parallel: 20,
      paceMs: 100,
      queueName: b.queue('close-all'),
      transports: () => ({
        submitter: b.amqp({ url: node.url, publishTimeout: 20_000, logger: logs.submitter }),
        consumer: b.amqp({ url: node.url, logger: logs.consumer }),
      }),
      faultAt: 1_500,
      fault: async () => {
        await node.closeAllConnections('test');
        closes++;
        await sleep(1_000);
        await node.closeAllConnections('test');
        closes++;
      },
      drainTimeoutMs: 60_000,
    });
    console.log(formatCounts(`close_all_connections x${closes}`, counts));
    expect(closes).toBe(2);
    // The fault struck mid-stream, and both sides lost their connections and came back.
    expect(counts.confirmedAtFault[1]).toBeLessThan(counts.submitted);
    expect(lossesOf(logs.submitter)).toBeGreaterThanOrEqual(2);
    expect(lossesOf(logs.consumer)).toBeGreaterThanOrEqual(2);
    expect(counts.confirmed + counts.rejected).toBe(counts.submitted);
    expect(counts.lost).toBe(0);
    expect(counts.confirmed).toBeGreaterThan(0);
  });

  it('broker killed (-9) and restarted mid-stream: every confirmed task runs; duplicates are counted', async () => {
    const b = isolated();
    let downMs = 0;
    const logs = { submitter: new CapturingLogger(), consumer: new CapturingLogger() };
    const counts = await runLoad({
      total: 3_000,
      parallel: 50,
      queueName: b.queue('kill-9'),
      // The bound is longer than the outage, so submits wait it out instead of failing.
      transports: () => ({
        submitter: b.amqp({ url: node.url, publishTimeout: 60_000, logger: logs.submitter }),
        consumer: b.amqp({ url: node.url, connectTimeout: 60_000, logger: logs.consumer }),
      }),
      faultAt: 1_000,
      fault: async () => {
        const down = Date.now();
        await node.kill();
        await sleep(1_000);
        await node.restart();
        downMs = Date.now() - down;
      },
      drainTimeoutMs: 90_000,
    });
    console.log(`${formatCounts('broker kill -9 + restart', counts)} broker-down-ms=${downMs}`);
    expect(downMs).toBeGreaterThan(1_000);
    expect(counts.confirmedAtFault[1]).toBeLessThan(counts.submitted);
    expect(lossesOf(logs.submitter)).toBeGreaterThanOrEqual(1);
    expect(lossesOf(logs.consumer)).toBeGreaterThanOrEqual(1);
    expect(counts.confirmed + counts.rejected).toBe(counts.submitted);
    expect(counts.lost).toBe(0);
  });

  it('broker down longer than publishTimeout: submits reject with a clear error after the bound and never resolve; after the restart work resumes', async () => {
    const b = isolated();
    const queueName = b.queue('outage');
    // Reconnect attempts at most every 500 ms: with the default 10 s cap, the first submits after the
    // restart could wait out a backoff longer than their 2 s bound.
    const reconnect = { initialDelay: 100, maxDelay: 500 };
    const queue = createQueue({
      registry,
      transport: b.amqp({ url: node.url, publishTimeout: 2_000, reconnect }),
      defaults: { queue: queueName },
    });
    const worker = createWorker({
      registry,
      transport: b.amqp({ url: node.url, reconnect }),
      queues: [queueName],
      concurrency: 20,
    });
    cleanups.push(
      () => queue.close(),
      () => worker.stop({ timeout: 5_000 }),
    );
    const done = new Set<number>();
    worker.on('completed', (e) => done.add(e.result as number));
    await worker.start();
    await queue.submitMany(
      work,
      Array.from({ length: 100 }, (_, n) => [n] as [number]),
    );
    await waitFor(() => done.size === 100, 'the first 100 tasks');

    await node.kill();
    const started = Date.now();
    const during = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => queue.submit(work, 100 + i)));
    const waitedMs = Date.now() - started;
    const errors = during.map((result) => (result.status === 'rejected' ? (result.reason as Error) : undefined));
    await node.restart();
    const after = await queue.submitMany(
      work,
      Array.from({ length: 100 }, (_, n) => [200 + n] as [number]),
    );
    await waitFor(() => after.every((_, n) => done.has(200 + n)), 'the tasks submitted after the restart', 60_000);
    await sleep(1_000);
    const resolvedDuring = errors.filter((error) => error === undefined).length;
    console.log(
      `[outage > publishTimeout] submits during outage=20 resolved=${resolvedDuring} rejected=${20 - resolvedDuring} after ${waitedMs} ms (${errorCode(errors[0])}: ${errors[0]?.message}); after restart: submitted=100 completed=${after.filter((_, n) => done.has(200 + n)).length}; rejected-but-ran=${[...Array(20).keys()].filter((i) => done.has(100 + i)).length}`,
    );
    expect(resolvedDuring).toBe(0);
    for (const error of errors) {
      expect(errorCode(error)).toBe('TASKQ_PUBLISH_TIMEOUT');
      expect(error?.message).toMatch(/within 2000 ms: (the broker is unreachable|no confirm arrived)/);
    }
    expect(waitedMs).toBeGreaterThanOrEqual(1_900);
  });

  it('half-open connection (proxy blackholes): noticed within about three heartbeats, then work resumes', async () => {
    const b = isolated();
    const proxy = await TcpProxy.start(node.port);
    cleanups.push(() => proxy.close());
    const heartbeat = 1;
    const url = `amqp://guest:guest@127.0.0.1:${proxy.port}`;
    const logs = { submitter: new CapturingLogger(), consumer: new CapturingLogger() };
    const queueName = b.queue('half-open');
    const queue = createQueue({
      registry,
      transport: b.amqp({ url, heartbeat, logger: logs.submitter, publishTimeout: 30_000 }),
      defaults: { queue: queueName },
    });
    const worker = createWorker({
      registry,
      transport: b.amqp({ url, heartbeat, logger: logs.consumer }),
      queues: [queueName],
      concurrency: 20,
    });
    cleanups.push(
      () => queue.close(),
      () => worker.stop({ timeout: 5_000 }),
    );
    const done = new Map<number, number>();
    worker.on('completed', (e) => done.set(e.result as number, (done.get(e.result as number) ?? 0) + 1));
    await worker.start();
    await queue.submitMany(
      work,
      Array.from({ length: 100 }, (_, n) => [n] as [number]),
    );
    await waitFor(() => done.size === 100, 'the first 100 tasks');
    const before = proxy.accepted;

    const cut = Date.now();
    proxy.blackhole();
    // Submitted into the black hole: they must wait and go out on the new connection.
    const during = Promise.allSettled(Array.from({ length: 100 }, (_, i) => queue.submit(work, 100 + i)));
    const settled = await during;
    const consumeLost = logs.consumer.first(/consume connection lost/, cut);
    const publishLost = logs.submitter.first(/publish connection lost/, cut);
    await waitFor(() => done.size === 200, 'the 100 tasks submitted during the blackhole', 30_000);
    const detect = { consume: (consumeLost ?? Number.NaN) - cut, publish: (publishLost ?? Number.NaN) - cut };
    const rejected = settled.filter((s) => s.status === 'rejected').length;
    console.log(
      `[half-open, heartbeat ${heartbeat}s] detected: consume ${detect.consume} ms, publish ${detect.publish} ms; new connections=${proxy.accepted - before} submitted=200 confirmed=${200 - rejected} rejected=${rejected} completed=${done.size} lost=${[...Array(200).keys()].filter((n) => !done.has(n)).length} duplicates=${[...done.values()].filter((c) => c > 1).length}`,
    );
    expect(rejected).toBe(0);
    for (const ms of [detect.consume, detect.publish]) {
      expect(ms).toBeGreaterThan(0);
      // amqplib gives up after two silent heartbeat intervals, checked once per interval: 2-3 heartbeats.
      expect(ms).toBeLessThanOrEqual(3 * heartbeat * 1_000 + 1_000);
    }
    expect(proxy.accepted - before).toBeGreaterThanOrEqual(2);
  });

  it('memory alarm: submit applies back-pressure and rejects after publishTimeout, consumers keep acking, everything flows once it clears', async () => {
    const b = isolated();
    const queueName = b.queue('alarm');
    const logs = new CapturingLogger();
    const queue = createQueue({
      registry,
      transport: b.amqp({ url: node.url, publishTimeout: 3_000, logger: logs }),
      defaults: { queue: queueName },
    });
    cleanups.push(() => queue.close());
    await queue.submitMany(
      work,
      Array.from({ length: 300 }, (_, n) => [n] as [number]),
    );

    await node.setMemoryWatermark(0);
    cleanups.push(async () => {
      await node.setMemoryWatermark(0.4);
    });
    const started = Date.now();
    const blocked = await queue.submit(work, 1_000).then(
      () => undefined,
      (error: unknown) => error,
    );
    const waitedMs = Date.now() - started;
    expect(errorCode(blocked)).toBe('TASKQ_PUBLISH_TIMEOUT');
    expect(waitedMs).toBeGreaterThanOrEqual(2_900);

    // The alarm blocks publishers only: a worker on its own connection consumes and acks the backlog.
    const done = new Set<number>();
    const worker = createWorker({
      registry,
      transport: b.amqp({ url: node.url }),
      queues: [queueName],
      concurrency: 20,
    });
    cleanups.push(() => worker.stop({ timeout: 5_000 }));
    worker.on('completed', (e) => done.add(e.result as number));
    await worker.start();
    await waitFor(
      () => [...Array(300).keys()].every((n) => done.has(n)),
      'the backlog consumed during the alarm',
      30_000,
    );
    const stillBlocked = await queue.submit(work, 1_001).then(
      () => 'resolved',
      (error: unknown) => errorCode(error),
    );

    await node.setMemoryWatermark(0.4);
    const after = await queue.submitMany(
      work,
      Array.from({ length: 200 }, (_, n) => [2_000 + n] as [number]),
    );
    await waitFor(() => after.every((_, n) => done.has(2_000 + n)), 'the tasks submitted after the alarm', 30_000);
    await sleep(500);
    console.log(
      `[memory alarm] backlog=300 consumed-during-alarm=${[...Array(300).keys()].filter((n) => done.has(n)).length} submit-during-alarm: ${errorCode(blocked)} after ${waitedMs} ms (${(blocked as Error).message}); second: ${stillBlocked}; after clearing: submitted=200 completed=${after.filter((_, n) => done.has(2_000 + n)).length}; rejected-during-alarm-but-ran=${[1_000, 1_001].filter((n) => done.has(n)).length}`,
    );
    expect((blocked as Error).message).toMatch(/memory or disk alarm|no confirm/);
    expect(stillBlocked).toBe('TASKQ_PUBLISH_TIMEOUT');
  });
});

function lossesOf(logger: CapturingLogger): number {
  return logger.lines.filter((line) => /connection lost/.test(line.message)).length;
}
