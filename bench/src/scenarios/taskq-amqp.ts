/**
 * taskq on RabbitMQ, through its public API only: `queue.with({ queue }).submit`
 * / `submitMany` and `createWorker`. The transport's settings are the ones the
 * raw scenario uses (durable queue, persistent messages, publisher confirms,
 * prefetch = concurrency, ack after the task), which is what makes the raw
 * figure taskq's ceiling.
 */
import { amqp, createQueue, createWorker, type TaskQueue } from '@taskq/core';
import { now } from '../clock.js';
import { AMQP_URL } from '../config.js';
import { add } from '../tasks.js';
import { openAmqpAdmin } from './raw-amqplib.js';
import { registry } from './taskq-registry.js';
import type { Admin, Consumer, Driver, Producer } from './types.js';

/**
 * taskq's RabbitMQ name for a logical queue: `<prefix>.q.<name>` with the
 * default prefix `taskq` (core's transports/amqp/topology.ts). The backlog
 * check after submit-only fails loudly if this ever drifts.
 */
function physical(queue: string): string {
  return `taskq.q.${queue}`;
}

/** A queue of its own for the untimed warm-up submit (see openProducer). */
function warmupQueue(queue: string): string {
  return `${queue}-warmup`;
}

class TaskqProducer implements Producer {
  constructor(
    private readonly root: TaskQueue,
    private readonly queue: TaskQueue,
  ) {}

  async one(sentAt: number): Promise<void> {
    await this.queue.submit(add, 1, 2, sentAt);
  }

  async many(count: number): Promise<void> {
    const at = now();
    await this.queue.submitMany(
      add,
      Array.from({ length: count }, (): [number, number, number] => [1, 2, at]),
    );
  }

  close(): Promise<void> {
    return this.root.close();
  }
}

export const taskqAmqpDriver: Driver = {
  system: 'taskq-amqp',

  async openProducer(queue) {
    const root = createQueue({ registry, transport: amqp({ url: AMQP_URL }) });
    // taskq connects on the first submit. The raw producer connects before the
    // clock starts, so this one does too: one submit to a separate queue (which
    // the parent deletes), so the measured queue still gets exactly N tasks.
    await root.with({ queue: warmupQueue(queue) }).submit(add, 0, 0);
    return new TaskqProducer(root, root.with({ queue }));
  },

  async startConsumer(queue, concurrency, onCompleted): Promise<Consumer> {
    const worker = createWorker({ registry, transport: amqp({ url: AMQP_URL }), concurrency, queues: [queue] });
    worker.on('completed', onCompleted);
    await worker.start();
    return { stop: () => worker.stop() };
  },
};

export function openTaskqAdmin(): Promise<Admin> {
  return openAmqpAdmin((queue) => [physical(queue), physical(warmupQueue(queue))]);
}
