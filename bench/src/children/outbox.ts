/**
 * Outbox child: taskq + TypeORM on PostgreSQL (scenarios/taskq-outbox.ts).
 * Sets up and warms up untimed, waits for `go`, then either submits in
 * transactions or sweeps left-behind rows, reports `outbox-done`, and
 * closes when the parent says `stop`.
 */
import { now } from '../clock.js';
import { PROGRESS_EVERY_MS } from '../config.js';
import type { OutboxConfig } from '../ipc.js';
import { openOutboxSession } from '../scenarios/taskq-outbox.js';
import { cpuMicros, fromParent, memorySample, readConfig, reportProgress, runChild, send } from './child.js';

runChild(async () => {
  const config = readConfig<OutboxConfig>('outbox');
  const go = fromParent('go');
  // Kept open until the parent has read the server CPU: the pool's PostgreSQL backends exit with it.
  const stop = fromParent('stop');
  const session = await openOutboxSession(config, cpuMicros);
  send({ type: 'ready', memory: memorySample(), cpuUs: cpuMicros() });
  await go;

  const stopProgress = reportProgress(() => Math.max(0, session.progress()), PROGRESS_EVERY_MS);
  const result = await session.run((at) => send({ type: 'started', at, cpuUs: cpuMicros() }));
  const at = now();
  const cpuUs = cpuMicros();
  stopProgress();
  send({
    type: 'outbox-done',
    at,
    cpuUs,
    transactions: result.transactions,
    tasks: result.tasks,
    commitToPublish: result.commitToPublish,
    commitToSend: result.commitToSend,
    unconfirmed: result.unconfirmed,
  });
  await stop;
  await session.close();
});
