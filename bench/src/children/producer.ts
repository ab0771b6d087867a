/**
 * Producer child: connects (untimed), waits for the parent's `go`, then
 * submits `count` tasks in the configured load shape and reports when the
 * first submit started and when the last one was confirmed.
 */
import { now } from '../clock.js';
import { PROGRESS_EVERY_MS } from '../config.js';
import type { ProducerConfig } from '../ipc.js';
import { drive } from '../load.js';
import { loadDriver } from '../scenarios/types.js';
import { cpuMicros, fromParent, memorySample, readConfig, reportProgress, runChild, send } from './child.js';

runChild(async () => {
  const config = readConfig<ProducerConfig>('producer');
  const go = fromParent('go');
  const driver = await loadDriver(config.system);
  const producer = await driver.openProducer(config.queue, config.setup);
  send({ type: 'ready', memory: memorySample(), cpuUs: cpuMicros() });
  await go;

  let confirmed = 0;
  const stopProgress = reportProgress(() => confirmed, PROGRESS_EVERY_MS);
  send({ type: 'started', at: now(), cpuUs: cpuMicros() });
  await drive(producer, config.shape, config.count, (done) => {
    confirmed = done;
  });
  const at = now();
  const cpuUs = cpuMicros();
  stopProgress();
  send({ type: 'confirmed', at, count: confirmed, cpuUs });
  await producer.close();
});
