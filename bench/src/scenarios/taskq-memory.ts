/**
 * taskq on its embedded memory transport: no broker, no network, no disk, so
 * what remains is the engine itself (registry lookup, argument codecs, the
 * JSON envelope, the worker's middleware chain, events). Producer and worker
 * are necessarily one process here, so its figures are not comparable with
 * the broker rows; they bound the engine's own cost per task.
 */
import { createQueue, createWorker, memory, type TaskQueue } from '@taskq/core';
import { now, withTimeout } from '../clock.js';
import { STALL_MS } from '../config.js';
import type { InProcessConfig, InProcessResult, MemorySample } from '../ipc.js';
import { drive, type Producer } from '../load.js';
import { add, latencies, recordLatencies } from '../tasks.js';
import { registry } from './taskq-registry.js';

const QUEUE = 'bench';

function producerOf(queue: TaskQueue): Producer {
  return {
    async one(sentAt) {
      await queue.submit(add, 1, 2, sentAt);
    },
    async many(count) {
      const at = now();
      await queue.submitMany(
        add,
        Array.from({ length: count }, (): [number, number, number] => [1, 2, at]),
      );
    },
    close: async () => undefined,
  };
}

/** One measurement in this process; `sample` takes a memory sample. */
export async function measureInProcess(
  config: InProcessConfig,
  sample: () => MemorySample,
  cpu: () => number,
  /** Count of tasks done so far, for the parent's stall watchdog. */
  progress: (count: number) => void,
): Promise<InProcessResult> {
  const transport = memory();
  const root = createQueue({ registry, transport });
  const producer = producerOf(root.with({ queue: QUEUE }));
  if (config.measure === 'latency') recordLatencies(config.count);

  if (config.measure === 'submit') {
    // No worker: the time to hand N tasks to the transport.
    const before = sample();
    const cpuBefore = cpu();
    const startedAt = now();
    await drive(producer, config.shape, config.count, progress);
    const endedAt = now();
    const cpuUs = cpu() - cpuBefore;
    const after = sample();
    await root.close();
    return { startedAt, endedAt, count: config.count, before, after, cpuUs, latencies: [] };
  }

  const worker = createWorker({ registry, transport, concurrency: config.concurrency, queues: [QUEUE] });
  let completed = 0;
  let endedAt = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  worker.on('completed', () => {
    progress(++completed);
    if (completed === config.count) {
      endedAt = now();
      finish();
    }
  });
  await worker.start();
  const before = sample();
  const cpuBefore = cpu();
  const startedAt = now();
  await drive(producer, config.shape, config.count, () => undefined);
  await withTimeout(finished, STALL_MS, 'memory transport: waiting for the last task');
  const cpuUs = cpu() - cpuBefore;
  const after = sample();
  await worker.stop();
  await root.close();
  return { startedAt, endedAt, count: completed, before, after, cpuUs, latencies: latencies() };
}
