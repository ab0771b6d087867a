import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createQueue, createWorker, memory, TaskRegistry } from '../src/index.js';
import { describeTransportBehaviour } from './behaviour/transport-suite.js';
import { waitFor } from '../../../test-support/wait.js';

let shared = memory();
describeTransportBehaviour('memory', {
  make: () => {
    // One transport per test, shared by the queue and workers of that test (the in-process broker).
    shared = memory();
    return shared;
  },
  queueName: (label) => `${label}-${randomUUID().slice(0, 8)}`,
  cleanup: async () => {
    await shared.close();
  },
});

describe('memory transport specifics', () => {
  it('keeps dead letters with their reason, readable by the application', async () => {
    async function fails() {
      throw new Error('nope');
    }
    const registry = new TaskRegistry().add('fails', fails);
    const transport = memory();
    const queue = createQueue({ registry, transport });
    const worker = createWorker({ registry, transport });
    await worker.start();
    const handle = await queue.submit(fails);
    await waitFor(() => transport.deadLetters().length === 1, 'dead letter');
    const [letter] = transport.deadLetters();
    expect(letter.id).toBe(handle.id);
    expect(letter.headers['x-taskq-dead-reason']).toBe('attempts-exhausted');
    expect(letter.headers['x-taskq-error']).toBe('nope');
    await worker.stop();
    await queue.close();
  });

  it('delivers higher priorities first', async () => {
    const order: number[] = [];
    async function record(n: number) {
      order.push(n);
    }
    const registry = new TaskRegistry().add('record', record);
    const transport = memory();
    const queue = createQueue({ registry, transport });
    await queue.with({ priority: 1 }).submit(record, 1);
    await queue.with({ priority: 9 }).submit(record, 9);
    await queue.submit(record, 0);
    await queue.with({ priority: 5 }).submit(record, 5);
    const worker = createWorker({ registry, transport, concurrency: 1 });
    await worker.start();
    await waitFor(() => order.length === 4, 'four tasks');
    expect(order).toEqual([9, 5, 1, 0]);
    await worker.stop();
    await queue.close();
  });
});
