/**
 * taskq on RabbitMQ, through its public API only: `queue.with({ queue }).submit`
 * / `submitMany` and `createWorker`. The transport's settings are the ones the
 * raw scenario uses (durable queue, persistent messages, publisher confirms,
 * prefetch = concurrency, ack after the task), which is what makes the raw
 * figure taskq's ceiling. The quorum driver is the same with
 * `queueType: 'quorum'` (and its own prefix, see QUORUM_PREFIX).
 */
import { amqp, createQueue, createWorker, type QueueType, type TaskQueue } from '@taskq/core';
import { now } from '../clock.js';
import { AMQP_URL, QUORUM_PREFIX } from '../config.js';
import type { BenchTask, DriverSetup } from '../ipc.js';
import { add, hash, wait } from '../tasks.js';
import { openAmqpAdmin } from './raw-amqplib.js';
import { registry } from './taskq-registry.js';
import type { Admin, Consumer, Driver, Producer } from './types.js';

const DEFAULT_PREFIX = 'taskq';

/**
 * taskq's RabbitMQ name for a logical queue: `<prefix>.q.<name>` (core's
 * transports/amqp/topology.ts). The backlog check after submit-only fails
 * loudly if this ever drifts.
 */
function physical(prefix: string, queue: string): string {
  return `${prefix}.q.${queue}`;
}

/** A queue of its own for the untimed warm-up submit (see openProducer). */
function warmupQueue(queue: string): string {
  return `${queue}-warmup`;
}

/** The three bench tasks take the same arguments (a, b, sentAt), so one producer serves them all. */
type BenchFn = (a: number, b: number, sentAt?: number) => number | Promise<number>;

const TASKS: Record<BenchTask, BenchFn> = { add, wait, hash };

class TaskqProducer implements Producer {
  constructor(
    private readonly root: TaskQueue,
    private readonly queue: TaskQueue,
    private readonly task: BenchFn,
  ) {}

  async one(sentAt: number): Promise<void> {
    await this.queue.submit(this.task, 1, 2, sentAt);
  }

  async many(count: number): Promise<void> {
    const at = now();
    await this.queue.submitMany(
      this.task,
      Array.from({ length: count }, (): [number, number, number] => [1, 2, at]),
    );
  }

  close(): Promise<void> {
    return this.root.close();
  }
}

function transport(queueType: QueueType, setup: DriverSetup | undefined) {
  const urls = setup?.urls ?? [AMQP_URL];
  return queueType === 'quorum'
    ? amqp({ urls, queueType, prefix: QUORUM_PREFIX })
    : amqp({ urls, prefix: DEFAULT_PREFIX });
}

function taskqDriver(system: 'taskq-amqp' | 'taskq-quorum', queueType: QueueType): Driver {
  return {
    system,

    async openProducer(queue, setup) {
      const root = createQueue({ registry, transport: transport(queueType, setup) });
      // taskq connects on the first submit. The raw producer connects before the
      // clock starts, so this one does too: one submit to a separate queue (which
      // the parent deletes), so the measured queue still gets exactly N tasks.
      await root.with({ queue: warmupQueue(queue) }).submit(add, 0, 0);
      return new TaskqProducer(root, root.with({ queue }), TASKS[setup?.task ?? 'add']);
    },

    async startConsumer(queue, concurrency, onCompleted, setup): Promise<Consumer> {
      const worker = createWorker({ registry, transport: transport(queueType, setup), concurrency, queues: [queue] });
      worker.on('completed', onCompleted);
      await worker.start();
      return { stop: () => worker.stop() };
    },
  };
}

export const taskqAmqpDriver = taskqDriver('taskq-amqp', 'classic');
export const taskqQuorumDriver = taskqDriver('taskq-quorum', 'quorum');

/**
 * The admin of the classic rows (prefix `taskq`) or of the quorum rows; `url` is the broker to ask. The quorum
 * rows' prefix is the bench's own, so everything it declared goes with each measurement (dead-letter queue, delay
 * levels, exchanges): nothing is left on a shared broker whose arguments a later taskq might declare differently
 * (an exchange or queue redeclared with other arguments is refused with 406).
 */
/** Levels of taskq's delay ladder (core's DELAY_LEVELS): their queues and exchanges are named `<prefix>.delay.<n>`. */
const DELAY_LEVELS = 28;

export function openTaskqAdmin(prefix = DEFAULT_PREFIX, url = AMQP_URL): Promise<Admin> {
  const own = prefix === DEFAULT_PREFIX;
  const levels = Array.from({ length: DELAY_LEVELS }, (_, level) => `${prefix}.delay.${level}`);
  const queues = own ? [] : [`${prefix}.dead`, `${prefix}.held`, ...levels];
  const exchanges = own
    ? []
    : [
        `${prefix}.delivery`,
        `${prefix}.unroutable`,
        `${prefix}.control`,
        `${prefix}.submit`,
        `${prefix}.held`,
        ...levels,
      ];
  return openAmqpAdmin(
    (queue) => [physical(prefix, queue), physical(prefix, warmupQueue(queue)), ...queues],
    url,
    exchanges,
  );
}
