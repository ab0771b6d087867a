/**
 * BullMQ on the local Redis: `Queue.add` / `Queue.addBulk` and a `Worker`
 * with concurrency P. Redis here keeps nothing on disk (no RDB, no AOF),
 * the most favourable setting for BullMQ; RabbitMQ in the other scenarios
 * writes persistent messages before it confirms. The README says so.
 *
 * Completed and failed jobs are removed (`removeOnComplete`), the usual
 * production setting, so Redis memory does not grow with every run, as a
 * RabbitMQ queue forgets acked messages.
 */
import { type ConnectionOptions, createIORedisClient, Queue, RedisConnection, type Telemetry, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { now } from '../clock.js';
import { REDIS_HOST, REDIS_PORT } from '../config.js';
import { add } from '../tasks.js';
import { installOtelSdk } from './otel-sdk.js';
import type { Admin, Consumer, Driver, Producer } from './types.js';

interface AddData {
  readonly args: [number, number, number];
}

const JOB = 'bench.add';
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true } as const;

/**
 * ioredis, the client BullMQ's users run. BullMQ loads it with require(),
 * which native ESM does not have; the factory hands it the wrapped client,
 * built with the options BullMQ asks for (blocking connections included).
 */
RedisConnection.clientFactory = (options) =>
  createIORedisClient(
    new Redis({ ...(options as object), host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null }),
  );

const connection: ConnectionOptions = { host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null };

async function openQueue(name: string, telemetry?: Telemetry): Promise<Queue<AddData>> {
  const queue = new Queue<AddData>(name, { connection, defaultJobOptions: JOB_OPTIONS, telemetry });
  await queue.waitUntilReady();
  return queue;
}

class BullProducer implements Producer {
  constructor(private readonly queue: Queue<AddData>) {}

  async one(sentAt: number): Promise<void> {
    await this.queue.add(JOB, { args: [1, 2, sentAt] });
  }

  async many(count: number): Promise<void> {
    const at = now();
    await this.queue.addBulk(
      Array.from({ length: count }, () => ({ name: JOB, data: { args: [1, 2, at] as [number, number, number] } })),
    );
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

function bullmqDriverWith(system: 'bullmq' | 'bullmq-traced', telemetry: () => Promise<Telemetry | undefined>): Driver {
  return {
    system,

    async openProducer(name) {
      return new BullProducer(await openQueue(name, await telemetry()));
    },

    async startConsumer(name, concurrency, onCompleted): Promise<Consumer> {
      const worker = new Worker<AddData>(name, async (job) => add(...job.data.args), {
        connection,
        concurrency,
        telemetry: await telemetry(),
      });
      worker.on('completed', onCompleted);
      worker.on('error', (error) => process.stderr.write(`bullmq worker error: ${error.message}\n`));
      await worker.waitUntilReady();
      return {
        stop: () => worker.close(),
      };
    },
  };
}

export const bullmqDriver: Driver = bullmqDriverWith('bullmq', async () => undefined);

/**
 * BullMQ with its OpenTelemetry integration (`bullmq-otel`, spans and metrics) on the same SDK as taskq's traced rows
 * (otel-sdk.ts): its own tracing, as a BullMQ user turns it on, for the cost of tracing on each side.
 */
export const bullmqTracedDriver: Driver = bullmqDriverWith('bullmq-traced', async () => {
  installOtelSdk();
  const { BullMQOtel } = await import('bullmq-otel');
  return new BullMQOtel({ tracerName: 'bench', meterName: 'bench', enableMetrics: true });
});

export async function openBullmqAdmin(): Promise<Admin> {
  const open = new Map<string, Queue<AddData>>();
  const get = async (name: string): Promise<Queue<AddData>> => {
    let queue = open.get(name);
    if (!queue) {
      queue = await openQueue(name);
      open.set(name, queue);
    }
    return queue;
  };
  return {
    async backlog(name) {
      return (await get(name)).getWaitingCount();
    },
    async remove(name) {
      const queue = await get(name);
      try {
        // Only this run's queue; force because a failed run can leave active jobs.
        await queue.obliterate({ force: true });
      } finally {
        open.delete(name);
        await queue.close();
      }
    },
    async close() {
      for (const queue of open.values()) await queue.close();
      open.clear();
    },
  };
}
