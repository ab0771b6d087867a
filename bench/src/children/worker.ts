/**
 * Worker child: consumes one queue with one system's consumer and tells the
 * parent when the expected number of tasks completed (and when it started,
 * how much memory it used, and the latencies the task recorded). A worker of
 * the scale rows shares its queue with others: it reports whatever it did when
 * the parent asks.
 */
import { now } from '../clock.js';
import { PROGRESS_EVERY_MS } from '../config.js';
import type { WorkerConfig } from '../ipc.js';
import { loadDriver } from '../scenarios/types.js';
import { latencies, recordLatencies } from '../tasks.js';
import { cpuMicros, fromParent, memorySample, readConfig, reportProgress, runChild, send } from './child.js';

runChild(async () => {
  const config = readConfig<WorkerConfig>('worker');
  const stop = fromParent('stop');
  const asked = config.reportOnRequest ? fromParent('report') : undefined;
  if (config.latency) recordLatencies(config.expected);
  const driver = await loadDriver(config.system);

  let count = 0;
  let firstAt = 0;
  let lastAt = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const sampleEvery = config.samples > 0 ? Math.max(1, Math.floor(config.expected / config.samples)) : 0;

  const onCompleted = (): void => {
    count++;
    if (count === 1) firstAt = now();
    if (asked) {
      lastAt = now();
    } else if (count === config.expected) {
      lastAt = now();
      finish();
    } else if (sampleEvery > 0 && count % sampleEvery === 0) {
      // Soak only: a forced GC here pauses the worker briefly, ten times per run.
      send({ type: 'memory', count, memory: memorySample() });
    }
  };

  const consumer = await driver.startConsumer(config.queue, config.concurrency, onCompleted, config.setup);
  send({ type: 'ready', memory: memorySample(), cpuUs: cpuMicros() });
  const stopProgress = reportProgress(() => count, config.progressEveryMs ?? PROGRESS_EVERY_MS);

  await Promise.race([asked ?? finished, stop]);
  stopProgress();
  if (asked || count >= config.expected) {
    const cpuUs = cpuMicros();
    send({ type: 'done', count, firstAt, lastAt, cpuUs, memory: memorySample(), latencies: latencies() });
  }
  await stop;
  await consumer.stop();
});
