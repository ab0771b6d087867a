import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActiveEvent,
  createQueue,
  createWorker,
  type DeadEvent,
  errorCode,
  type FailedEvent,
  TaskRegistry,
} from '../../src/index.js';
import { BrokerNode } from '../support/broker-node.js';
import { eventually, sleep, waitFor } from '../../../../test-support/wait.js';
import { testBroker } from '../support/rabbit.js';
import { CapturingLogger } from './load.js';

/** The broker's delivery acknowledgement timeout on the throw-away node (it checks about once a minute). */
const CONSUMER_TIMEOUT_MS = 60_000;

describe('fault: a task longer than the broker consumer_timeout', () => {
  let node: BrokerNode;
  const broker = testBroker();

  beforeAll(async () => {
    node = await BrokerNode.start({ config: [`consumer_timeout = ${CONSUMER_TIMEOUT_MS}`] });
  });

  afterAll(async () => {
    if (node) await broker.cleanup(node.url).catch(() => {});
    await node?.destroy();
  });

  it('is failed 5 s before the deadline and dead-lettered (exceeded-ack-deadline), acked in time: no channel close, no redelivery loop; the worker goes on', async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let stubbornRuns = 0;
    // Ignores its abort signal, as code stuck in a blocking call would.
    async function stubborn() {
      stubbornRuns++;
      await released;
    }
    const quickDone: number[] = [];
    async function quick(n: number) {
      quickDone.push(n);
    }
    const registry = new TaskRegistry().add('deadline.stubborn', stubborn).add('deadline.quick', quick);
    const queueName = broker.queue('ack-deadline');
    const logs = new CapturingLogger();
    const queue = createQueue({ registry, transport: broker.amqp({ url: node.url }), defaults: { queue: queueName } });
    const worker = createWorker({
      registry,
      transport: broker.amqp({ url: node.url, logger: logs }),
      queues: [queueName],
      concurrency: 2,
      ackDeadline: CONSUMER_TIMEOUT_MS,
      logger: logs,
    });
    const active: ActiveEvent[] = [];
    const failed: FailedEvent[] = [];
    const dead: DeadEvent[] = [];
    worker.on('active', (e) => active.push(e));
    worker.on('failed', (e) => failed.push(e));
    worker.on('dead', (e) => dead.push(e));
    try {
      // The node really runs with the lowered timeout (else this test would prove nothing).
      expect(await node.ctl(['eval', 'application:get_env(rabbit, consumer_timeout).'])).toContain(
        `{ok,${CONSUMER_TIMEOUT_MS}}`,
      );
      await worker.start();
      const handle = await queue.submit(stubborn);
      await waitFor(() => active.length === 1, 'the long task to start');
      const startedAt = Date.now();

      await waitFor(() => dead.length === 1, 'the ack-deadline guard', CONSUMER_TIMEOUT_MS);
      const failedAfterMs = Date.now() - startedAt;
      expect(dead[0]).toMatchObject({ id: handle.id, reason: 'exceeded-ack-deadline' });
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ id: handle.id, willRetry: false });
      expect(errorCode(failed[0].error)).toBe('TASKQ_TASK_TIMEOUT');
      // Acked before the broker's deadline: nothing is left unacknowledged on the queue for it to time out.
      const queues = await node.ctl([
        'list_queues',
        'name',
        'messages_ready',
        'messages_unacknowledged',
        '--no-table-headers',
        '--quiet',
      ]);
      const line = queues.split('\n').find((l) => l.startsWith(broker.physical(queueName)));
      expect(line?.split(/\s+/).slice(1)).toEqual(['0', '0']);

      // The worker goes on with the next task while the stubborn one is still stuck.
      await queue.submit(quick, 1);
      await waitFor(() => quickDone.includes(1), 'a task after the dead letter');

      // Watch past the broker's timeout (plus its check interval slack): no channel close, no redelivery.
      await sleep(Math.max(0, CONSUMER_TIMEOUT_MS + 10_000 - (Date.now() - startedAt)));
      release();
      await sleep(500);
      await queue.submit(quick, 2);
      await waitFor(() => quickDone.includes(2), 'a task after the stubborn one finally returned');
      const letters = await worker.transport.dead.list();
      const problems = logs.lines.filter((l) =>
        /channel error|connection lost|connection error|ack failed/.test(l.message),
      );
      console.log(
        `[ack deadline] consumer_timeout=${CONSUMER_TIMEOUT_MS} ms ackDeadline=${CONSUMER_TIMEOUT_MS} ms: failed+dead-lettered after ${failedAfterMs} ms, stubborn runs=${stubbornRuns}, deliveries of it=${active.filter((e) => e.id === handle.id).length}, dead letters=${letters.length} (${letters.map((l) => l.reason).join(',')}), channel/connection errors=${problems.length}, watched for ${Date.now() - startedAt} ms`,
      );
      expect(failedAfterMs).toBeLessThan(CONSUMER_TIMEOUT_MS - 3_000);
      expect(stubbornRuns).toBe(1);
      expect(active.filter((e) => e.id === handle.id)).toHaveLength(1);
      expect(problems).toEqual([]);
      await eventually(async () => (await worker.transport.dead.count()) === 1, 'one dead letter');
      expect(letters.map((l) => [l.id, l.reason])).toEqual([[handle.id, 'exceeded-ack-deadline']]);
      expect(letters[0].error).toContain('consumer timeout');
    } finally {
      release();
      await worker.stop({ timeout: 5_000 });
      await queue.close();
    }
  });
});
