// Exact task metrics after 100 tasks, 10 of which fail: 5 flaky (fail once, then succeed on attempt 2 of 2) and 5
// broken (fail both attempts, dead-lettered), plus one malformed message refused at receive. The broker gauges are
// read at most once per interval. No attribute value is a task id or an argument.
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { createQueue, createWorker, silentLogger, TaskRegistry } from '@taskq/core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { withChannel } from '../../../test-support/rabbit.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sleep } from '../../../test-support/wait.js';
import { points, setupTelemetry, sumOf } from './support/telemetry.js';

const telemetry = setupTelemetry();
const broker = testBroker('tqotel');
afterAll(async () => {
  await broker.cleanup();
  await telemetry.shutdown();
});

const UUID = /[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}/i;

describe('task metrics', () => {
  it('100 tasks, 10 failing: exact counters, histogram counts, running back to 0, gauges from the broker', async () => {
    const failedOnce = new Set<string>();
    async function welcome(_email: string): Promise<void> {}
    async function flaky(email: string): Promise<void> {
      if (failedOnce.has(email)) return;
      failedOnce.add(email);
      throw Object.assign(new Error('mail API down'), { code: 'MAIL_DOWN' });
    }
    async function broken(_email: string): Promise<void> {
      throw new TypeError('template missing');
    }
    const retry = { attempts: 2, backoff: { type: 'fixed', delay: 20 } } as const;
    const registry = new TaskRegistry()
      .add('mail.welcome', welcome, { attempts: 1 })
      .add('mail.flaky', flaky, retry)
      .add('mail.broken', broken, retry);
    const queueName = broker.queue('metrics');
    const transport = broker.amqp();
    const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, queues: [queueName], concurrency: 10, logger: silentLogger });
    await worker.start();
    const stopObserving = telemetry.instrumentation.observeQueues(transport, { queues: [queueName], interval: '1s' });
    try {
      const emails = Array.from({ length: 90 }, (_, i) => [`user${i}@example.com`] as [string]);
      const handles = await queue.submitMany(welcome, emails);
      for (let i = 0; i < 5; i++) handles.push(await queue.submit(flaky, `flaky${i}@example.com`));
      for (let i = 0; i < 5; i++) handles.push(await queue.submit(broken, `broken${i}@example.com`));
      const ids = new Set(handles.map((h) => h.id));
      expect(ids.size).toBe(100);
      await withChannel(async (channel) => {
        channel.sendToQueue(broker.physical(queueName), Buffer.from('not an envelope'), { messageId: 'junk-1' });
      });

      let metrics = await telemetry.collect();
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        metrics = await telemetry.collect();
        const done = sumOf(metrics, 'taskq.tasks.completed') + sumOf(metrics, 'taskq.tasks.dead_lettered');
        if (done === 95 + 5 + 1 && sumOf(metrics, 'taskq.tasks.running') === 0) break;
        await sleep(50);
      }
      // submitMany: one send span for the batch.
      const batch = telemetry
        .spans()
        .filter((s) => s.name === `send ${queueName}` && s.attributes['messaging.batch.message_count']);
      expect(batch).toHaveLength(1);
      expect(batch[0].attributes).toMatchObject({
        'messaging.batch.message_count': 90,
        'taskq.task.name': 'mail.welcome',
      });
      expect(batch[0].attributes).not.toHaveProperty('messaging.message.id');
      expect(telemetry.spans().filter((s) => s.name === `send ${queueName}`)).toHaveLength(11);
      const count = (name: string, match = {}) => sumOf(metrics, name, match);
      const counts = {
        submitted: count('taskq.tasks.submitted'),
        completed: count('taskq.tasks.completed'),
        failed: count('taskq.tasks.failed'),
        retried: count('taskq.tasks.retried'),
        dead_lettered: count('taskq.tasks.dead_lettered'),
        cancelled: count('taskq.tasks.cancelled'),
        running: count('taskq.tasks.running'),
        duration: count('taskq.task.duration'),
        queue_wait: count('taskq.task.queue_wait'),
      };
      console.log('metrics after 100 tasks:', JSON.stringify(counts));
      expect(counts).toEqual({
        submitted: 100,
        completed: 95,
        failed: 15,
        retried: 10,
        dead_lettered: 6,
        cancelled: 0,
        running: 0,
        duration: 110,
        queue_wait: 110,
      });
      const task = (name: string) => ({ 'taskq.task.name': name, 'taskq.queue': queueName });
      expect(count('taskq.tasks.submitted', task('mail.welcome'))).toBe(90);
      expect(count('taskq.tasks.completed', task('mail.flaky'))).toBe(5);
      expect(count('taskq.tasks.failed', task('mail.flaky'))).toBe(5);
      expect(count('taskq.tasks.failed', task('mail.broken'))).toBe(10);
      expect(count('taskq.tasks.retried', task('mail.broken'))).toBe(5);
      expect(
        count('taskq.tasks.dead_lettered', {
          ...task('mail.broken'),
          'taskq.dead_letter.reason': 'attempts-exhausted',
        }),
      ).toBe(5);
      expect(
        count('taskq.tasks.dead_lettered', {
          'taskq.queue': queueName,
          'taskq.dead_letter.reason': 'malformed-message',
        }),
      ).toBe(1);
      expect(count('taskq.task.duration', { 'taskq.task.outcome': 'completed' })).toBe(95);
      expect(count('taskq.task.duration', { 'taskq.task.outcome': 'retried' })).toBe(10);
      expect(count('taskq.task.duration', { 'taskq.task.outcome': 'dead' })).toBe(5);
      const duration = points(metrics, 'taskq.task.duration')[0]?.value as Histogram;
      expect(duration.buckets.boundaries[0]).toBe(0.005); // seconds, not the default millisecond buckets

      // Nothing that identifies a task or carries its arguments is an attribute.
      const values = new Set<string>();
      for (const scope of metrics.scopeMetrics)
        for (const metric of scope.metrics)
          for (const point of metric.dataPoints)
            for (const value of Object.values(point.attributes)) values.add(String(value));
      console.log(`${values.size} distinct attribute values: ${[...values].join(', ')}`);
      for (const value of values) {
        expect(value).not.toMatch(UUID);
        expect(ids.has(value)).toBe(false);
        expect(value).not.toContain('@example.com');
        expect(value).not.toBe('junk-1');
      }

      // Gauges: read from the broker once, then answered from the cache until the interval has passed.
      const queueInfo = vi.spyOn(transport.control as NonNullable<typeof transport.control>, 'queueInfo');
      const deadCount = vi.spyOn(transport.dead, 'count');
      await sleep(1_000); // the first read above is older than the interval now
      metrics = await telemetry.collect();
      await telemetry.collect();
      await telemetry.collect();
      expect(queueInfo).toHaveBeenCalledTimes(1);
      expect(deadCount).toHaveBeenCalledTimes(1);
      const queueAttributes = { 'taskq.queue': queueName, 'messaging.destination.name': broker.physical(queueName) };
      expect(count('taskq.queue.depth', queueAttributes)).toBe(0);
      expect(count('taskq.queue.consumers', queueAttributes)).toBe(1);
      expect(count('taskq.dead_letters', { 'taskq.prefix': broker.prefix })).toBe(6);
    } finally {
      stopObserving();
      await worker.stop();
      await queue.close();
    }
  });
});
