/**
 * What a backlog of publishes costs the producer: `--tasks` submits made at once, before the connection is open (as
 * after a broker outage, or at a busy start), wait in the publisher and drain once it is. Per run it prints how long
 * until all were confirmed, the producer's CPU for it, and the event loop's delay meanwhile (what every other request
 * of that process waited):
 *
 *   node bench/dist/tools/publish-backlog.js [--tasks 100000] [--runs 2]
 *
 * Each run opens a new queue (a new connection) with a prefix of its own, and deletes what it declared.
 */
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { amqp, createQueue } from '@taskq/core';
import { AMQP_URL } from '../config.js';
import { now } from '../clock.js';
import { openTaskqAdmin } from '../scenarios/taskq-amqp.js';
import { registry } from '../scenarios/taskq-registry.js';
import { add } from '../tasks.js';
import { positiveInteger } from './options.js';

interface BacklogRun {
  readonly confirmedMs: number;
  readonly cpuMs: number;
  readonly delayMaxMs: number;
  readonly delayP99Ms: number;
}

async function run(tasks: number): Promise<BacklogRun> {
  const prefix = `bench-backlog-${randomUUID().slice(0, 8)}`;
  const queueName = 'backlog';
  const root = createQueue({ registry, transport: amqp({ url: AMQP_URL, prefix }) });
  const queue = root.with({ queue: queueName });
  const delay = monitorEventLoopDelay({ resolution: 10 });
  try {
    delay.enable();
    const started = now();
    const cpu = process.cpuUsage();
    const submits: Promise<unknown>[] = [];
    for (let i = 0; i < tasks; i++) submits.push(queue.submit(add, 1, 2));
    await Promise.all(submits);
    const used = process.cpuUsage(cpu);
    const confirmedMs = now() - started;
    delay.disable();
    return {
      confirmedMs,
      cpuMs: (used.user + used.system) / 1000,
      delayMaxMs: delay.max / 1e6,
      delayP99Ms: delay.percentile(99) / 1e6,
    };
  } finally {
    await root.close();
    const admin = await openTaskqAdmin(prefix);
    try {
      await admin.remove(queueName);
    } finally {
      await admin.close();
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { tasks: { type: 'string', default: '100000' }, runs: { type: 'string', default: '2' } },
  });
  const tasks = positiveInteger('--tasks', values.tasks);
  const runs = positiveInteger('--runs', values.runs);
  console.log(`${tasks} submits made before the connection is open, per run:`);
  console.log('| run | all confirmed, ms | producer CPU, ms | event loop delay max, ms | p99, ms |');
  console.log('|---:|---:|---:|---:|---:|');
  for (let i = 1; i <= runs; i++) {
    const r = await run(tasks);
    console.log(
      `| ${i} | ${Math.round(r.confirmedMs)} | ${Math.round(r.cpuMs)} | ${Math.round(r.delayMaxMs)} | ${Math.round(r.delayP99Ms)} |`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
