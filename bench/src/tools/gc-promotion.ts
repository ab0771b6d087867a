/**
 * What a producer's or a worker's garbage costs: runs one system's producer (or worker) in a child under
 * `node --trace-gc-nvp` and sums what V8 reports, so that a change to the objects a submit or an attempt keeps alive
 * can be measured without timing anything:
 *
 *   node bench/dist/tools/gc-promotion.js [--role producer|worker] [--systems raw,taskq-amqp] [--tasks 100000]
 *                                         [--in-flight 1000] [--runs 2] [--cpu-prof <dir>]
 *
 * With `--cpu-prof`, each child also writes a CPU profile into that folder (read it with profile-top.js).
 *
 * Per run it prints the child's tasks per second (as information only), its CPU time per task (the worker's from its
 * first task on), the bytes it allocated per task, its
 * scavenges and their summed pause, the bytes scavenges promoted to the old generation, and its mark-compacts. An
 * object still alive at two scavenges in a row is promoted; a mark-compact later collects it, pausing the process.
 * With 1,000 submits in flight, each confirmed in tens of milliseconds, or an attempt that ends as soon as it starts,
 * almost nothing should live that long; an old object that points at young ones keeps them alive as well.
 *
 * The producer's load is the bench's `concurrent` shape (1,000 independent loops each awaiting its own submit). For
 * the worker, this process first publishes the tasks with the same system's producer (so a traced system's messages
 * carry their trace context), then the child consumes them with the bench's concurrency. Each run gets a queue of
 * its own, removed afterwards.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { now } from '../clock.js';
import { CONCURRENCY } from '../config.js';
import { SYSTEM_NAMES, type SystemName } from '../ipc.js';
import { drive } from '../load.js';
import { loadDriver, openAdmin } from '../scenarios/types.js';
import { positiveInteger } from './options.js';

interface GcSums {
  allocatedBytes: number;
  scavenges: number;
  scavengeMs: number;
  promotedBytes: number;
  markCompacts: number;
  markCompactMs: number;
}

/** Sums the `--trace-gc-nvp` lines (`key=value` pairs, `gc=s` for a scavenge, `gc=mc` for a mark-compact). */
function sumGc(lines: readonly string[]): GcSums {
  const sums: GcSums = {
    allocatedBytes: 0,
    scavenges: 0,
    scavengeMs: 0,
    promotedBytes: 0,
    markCompacts: 0,
    markCompactMs: 0,
  };
  for (const line of lines) {
    const kind = / gc=(s|mc) /.exec(line)?.[1];
    if (!kind) continue;
    // What the process allocated since the collection before this one.
    sums.allocatedBytes += Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0);
    const pause = Number(/ pause=([\d.]+)/.exec(line)?.[1] ?? 0);
    if (kind === 's') {
      sums.scavenges++;
      sums.scavengeMs += pause;
      sums.promotedBytes += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
    } else {
      sums.markCompacts++;
      sums.markCompactMs += pause;
    }
  }
  return sums;
}

type Role = 'producer' | 'worker';

/** `RESULT <tasks/s> <CPU µs per task>`, what a child prints last. */
function report(tasks: number, seconds: number, cpu: NodeJS.CpuUsage): void {
  process.stdout.write(`RESULT ${Math.round(tasks / seconds)} ${((cpu.user + cpu.system) / tasks).toFixed(1)}\n`);
}

/** The producer child: submits `tasks` with `inFlight` in flight. */
async function produce(system: SystemName, queue: string, tasks: number, inFlight: number): Promise<void> {
  const driver = await loadDriver(system);
  const producer = await driver.openProducer(queue);
  const started = now();
  const cpu = process.cpuUsage();
  await drive(producer, { kind: 'concurrent', inFlight }, tasks, () => {});
  const used = process.cpuUsage(cpu);
  const seconds = (now() - started) / 1000;
  await producer.close();
  report(tasks, seconds, used);
}

/**
 * The worker child: consumes the `tasks` waiting in `queue`. Its CPU per task is the worker's alone, with no
 * producer or backlog growing beside it (the queue is full from the start).
 */
async function consume(system: SystemName, queue: string, tasks: number): Promise<void> {
  const driver = await loadDriver(system);
  let done = 0;
  let started = 0;
  let cpu = process.cpuUsage();
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const consumer = await driver.startConsumer(queue, CONCURRENCY, () => {
    if (done++ === 0) {
      started = now();
      cpu = process.cpuUsage();
    }
    if (done === tasks) finish();
  });
  await finished;
  const used = process.cpuUsage(cpu);
  const seconds = (now() - started) / 1000;
  await consumer.stop();
  report(tasks, seconds, used);
}

/** Fills `queue` with `tasks` tasks for the worker child, from this process (not measured). */
async function fill(system: SystemName, queue: string, tasks: number, inFlight: number): Promise<void> {
  const driver = await loadDriver(system);
  const producer = await driver.openProducer(queue);
  try {
    await drive(producer, { kind: 'concurrent', inFlight }, tasks, () => {});
  } finally {
    await producer.close();
  }
}

async function runChild(
  role: Role,
  system: SystemName,
  tasks: number,
  inFlight: number,
  profileDir: string | undefined,
): Promise<{ perSecond: number; cpuUs: number; gc: GcSums }> {
  const queue = `bench-gc-${randomUUID()}`;
  const script = fileURLToPath(import.meta.url);
  const args = ['--trace-gc-nvp', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  args.push(script, '--child', system, '--role', role, '--queue', queue);
  args.push('--tasks', String(tasks), '--in-flight', String(inFlight));
  const output: string[] = [];
  let exitCode: number | null;
  try {
    if (role === 'worker') await fill(system, queue, tasks, inFlight);
    exitCode = await new Promise<number | null>((resolve, reject) => {
      const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let rest = '';
      proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        output.push(...lines);
      });
      proc.on('error', reject);
      proc.on('close', (code) => {
        if (rest) output.push(rest);
        resolve(code);
      });
    });
  } finally {
    // Whatever happened, filling included: the queue goes.
    const admin = await openAdmin(system);
    try {
      await admin.remove(queue);
    } finally {
      await admin.close();
    }
  }
  const result = output.find((line) => line.startsWith('RESULT '));
  if (exitCode !== 0 || !result) throw new Error(`${system}: the ${role} exited with ${exitCode}`);
  const [perSecond, cpuUs] = result.slice('RESULT '.length).split(' ').map(Number);
  return { perSecond: perSecond ?? Number.NaN, cpuUs: cpuUs ?? Number.NaN, gc: sumGc(output) };
}

function isSystem(value: string): value is SystemName {
  return (SYSTEM_NAMES as readonly string[]).includes(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      role: { type: 'string', default: 'producer' },
      queue: { type: 'string' },
      systems: { type: 'string', default: 'raw,taskq-amqp' },
      tasks: { type: 'string', default: '100000' },
      'in-flight': { type: 'string', default: '1000' },
      runs: { type: 'string', default: '2' },
      'cpu-prof': { type: 'string' },
    },
  });
  const tasks = positiveInteger('--tasks', values.tasks);
  const inFlight = positiveInteger('--in-flight', values['in-flight']);
  const runs = positiveInteger('--runs', values.runs);
  const role = values.role;
  if (role !== 'producer' && role !== 'worker') throw new Error(`--role takes producer or worker, got ${role}`);
  if (values.child !== undefined) {
    if (!isSystem(values.child) || values.queue === undefined) throw new Error('--child needs a system and --queue');
    if (role === 'worker') return consume(values.child, values.queue, tasks);
    return produce(values.child, values.queue, tasks, inFlight);
  }
  const systems = values.systems.split(',');
  for (const system of systems) if (!isSystem(system)) throw new Error(`unknown system ${system}`);
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  console.log(
    role === 'producer'
      ? `${tasks} submits, ${inFlight} in flight, per run:`
      : `a worker (concurrency ${CONCURRENCY}) running ${tasks} tasks waiting in its queue, per run:`,
  );
  console.log(
    `| system | run | ${role === 'producer' ? 'submits' : 'tasks'}/s | CPU µs per task | allocated KB per task | scavenges | scavenge pause ms | promoted MB | mark-compacts | their pause ms |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (let run = 1; run <= runs; run++) {
    for (const system of systems as SystemName[]) {
      const { perSecond, cpuUs, gc } = await runChild(role, system, tasks, inFlight, values['cpu-prof']);
      const perTask = (gc.allocatedBytes / tasks / 1024).toFixed(2);
      console.log(
        `| ${system} | ${run} | ${perSecond} | ${cpuUs} | ${perTask} | ${gc.scavenges} | ${gc.scavengeMs.toFixed(0)} | ${mb(gc.promotedBytes)} | ${gc.markCompacts} | ${gc.markCompactMs.toFixed(0)} |`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
