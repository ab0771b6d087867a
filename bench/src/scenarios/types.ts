import { QUORUM_PREFIX } from '../config.js';
import type { DriverSetup, SystemName } from '../ipc.js';
import type { Producer } from '../load.js';

export type { Producer };

/** A running consumer (raw consumer, taskq worker, BullMQ worker). */
export interface Consumer {
  /** Stops taking tasks and closes its connections. */
  stop(): Promise<void>;
}

/**
 * One queue system as seen from the children: how to submit and how to
 * consume. Each scenario module implements it with the same settings as the
 * others (durable queue, persistent messages, confirms, prefetch = concurrency).
 */
export interface Driver {
  readonly system: SystemName;
  /** Connects and declares what a producer needs; opening is not timed. `setup` is for taskq drivers only. */
  openProducer(queue: string, setup?: DriverSetup): Promise<Producer>;
  /** Starts consuming; `onCompleted` is called once per finished task. */
  startConsumer(queue: string, concurrency: number, onCompleted: () => void, setup?: DriverSetup): Promise<Consumer>;
}

/** What the parent does around a measurement: check the backlog, remove the queue. */
export interface Admin {
  /** Tasks waiting in `queue` (used to check that submit-only really stored N tasks). */
  backlog(queue: string): Promise<number>;
  /** Deletes everything this bench created for `queue`, and only that. */
  remove(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** Loads a system's driver on demand, so a raw amqplib child never imports BullMQ or taskq. */
export async function loadDriver(system: SystemName): Promise<Driver> {
  switch (system) {
    case 'raw':
      return (await import('./raw-amqplib.js')).rawDriver;
    case 'raw-taskq-format':
      return (await import('./raw-amqplib.js')).rawTaskqFormatDriver;
    case 'taskq-amqp':
      return (await import('./taskq-amqp.js')).taskqAmqpDriver;
    case 'taskq-quorum':
      return (await import('./taskq-amqp.js')).taskqQuorumDriver;
    case 'taskq-traced':
      return (await import('./taskq-traced.js')).taskqTracedDriver;
    case 'taskq-sampled':
      return (await import('./taskq-traced.js')).taskqSampledDriver;
    case 'taskq-metrics':
      return (await import('./taskq-traced.js')).taskqMetricsDriver;
    case 'taskq-context':
      return (await import('./taskq-context.js')).taskqContextDriver;
    case 'bullmq':
      return (await import('./bullmq.js')).bullmqDriver;
    case 'bullmq-traced':
      return (await import('./bullmq.js')).bullmqTracedDriver;
  }
}

export async function openAdmin(system: SystemName): Promise<Admin> {
  switch (system) {
    case 'raw':
    case 'raw-taskq-format':
      return (await import('./raw-amqplib.js')).openRawAdmin();
    case 'taskq-amqp':
    case 'taskq-traced':
    case 'taskq-sampled':
    case 'taskq-metrics':
    case 'taskq-context':
      return (await import('./taskq-amqp.js')).openTaskqAdmin();
    case 'taskq-quorum':
      return (await import('./taskq-amqp.js')).openTaskqAdmin(QUORUM_PREFIX);
    case 'bullmq':
    case 'bullmq-traced':
      return (await import('./bullmq.js')).openBullmqAdmin();
  }
}
