// A task cancelled while it runs: its process span says cancelled (status ERROR with the cancellation's code), and it
// counts as cancelled, neither failed nor retried nor dead-lettered.
import { createQueue, createWorker, currentTask, memoryResultStore, silentLogger, TaskRegistry } from '@taskq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';
import { setupTelemetry, sumOf } from './support/telemetry.js';

const telemetry = setupTelemetry();
const broker = testBroker('tqotel');
afterAll(async () => {
  await broker.cleanup();
  await telemetry.shutdown();
});

describe('a cancelled attempt', () => {
  it('process span outcome cancelled, status ERROR; counted as cancelled only', async () => {
    let started = false;
    async function importContacts(_file: string): Promise<void> {
      started = true;
      const { signal } = currentTask();
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    }
    const registry = new TaskRegistry().add('contacts.import', importContacts, { attempts: 3 });
    const queueName = broker.queue('cancel');
    const transport = broker.amqp();
    const store = memoryResultStore();
    const queue = createQueue({ registry, transport, store, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, store, queues: [queueName], logger: silentLogger });
    await worker.start();
    try {
      const handle = await queue.submit(importContacts, 'contacts.csv');
      await waitFor(() => started, 'the task to start');
      expect(await queue.cancel(handle.id)).toBe(true);
      await waitFor(() => telemetry.spans().some((s) => s.name === `process ${queueName}`), 'the process span');
      const processed = telemetry.spans().find((s) => s.name === `process ${queueName}`);
      expect(processed).toMatchObject({ status: 'ERROR', events: ['exception'] });
      expect(processed?.attributes).toMatchObject({
        'taskq.task.outcome': 'cancelled',
        'error.type': 'TASKQ_TASK_CANCELLED',
        'messaging.message.id': handle.id,
      });
      const metrics = await telemetry.collect();
      expect({
        cancelled: sumOf(metrics, 'taskq.tasks.cancelled'),
        failed: sumOf(metrics, 'taskq.tasks.failed'),
        retried: sumOf(metrics, 'taskq.tasks.retried'),
        dead_lettered: sumOf(metrics, 'taskq.tasks.dead_lettered'),
        running: sumOf(metrics, 'taskq.tasks.running'),
        cancelledDuration: sumOf(metrics, 'taskq.task.duration', { 'taskq.task.outcome': 'cancelled' }),
      }).toEqual({ cancelled: 1, failed: 0, retried: 0, dead_lettered: 0, running: 0, cancelledDuration: 1 });
    } finally {
      await worker.stop();
      await queue.close();
    }
  });
});
