/**
 * In-process child for the memory transport: producer and worker share this
 * process (the transport lives in it), so the whole measurement runs here and
 * one `result` message goes back.
 */
import type { InProcessConfig } from '../ipc.js';
import { measureInProcess } from '../scenarios/taskq-memory.js';
import { PROGRESS_EVERY_MS } from '../config.js';
import { cpuMicros, fromParent, memorySample, readConfig, reportProgress, runChild, send } from './child.js';

runChild(async () => {
  const config = readConfig<InProcessConfig>('inprocess');
  const go = fromParent('go');
  send({ type: 'ready', memory: memorySample(), cpuUs: cpuMicros() });
  await go;
  let done = 0;
  const stopProgress = reportProgress(() => done, PROGRESS_EVERY_MS);
  const result = await measureInProcess(config, memorySample, cpuMicros, (count) => {
    done = count;
  });
  stopProgress();
  send({ type: 'result', ...result });
});
