/**
 * What a producer's garbage costs: runs one system's producer in a child under `node --trace-gc-nvp` and sums what
 * V8 reports, so that a change to the objects a submit keeps alive can be measured without timing anything:
 *
 *   node bench/dist/tools/gc-promotion.js [--systems raw,taskq-amqp] [--tasks 100000] [--in-flight 1000] [--runs 2]
 *
 * Per run it prints the producer's submits per second (as information only), its scavenges and their summed pause,
 * the bytes scavenges promoted to the old generation, and its mark-compacts. An object a submit allocates that is
 * still alive at two scavenges in a row is promoted; a mark-compact later collects it, pausing the producer. With
 * 1,000 submits in flight, each confirmed in tens of milliseconds, almost nothing should live that long.
 *
 * The load is the bench's `concurrent` shape (1,000 independent loops each awaiting its own submit) on the systems'
 * bench drivers; each run gets a queue of its own, removed afterwards.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { now } from '../clock.js';
import { SYSTEM_NAMES, type SystemName } from '../ipc.js';
import { drive } from '../load.js';
import { loadDriver, openAdmin } from '../scenarios/types.js';
import { positiveInteger } from './options.js';

interface GcSums {
  scavenges: number;
  scavengeMs: number;
  promotedBytes: number;
  markCompacts: number;
  markCompactMs: number;
}

/** Sums the `--trace-gc-nvp` lines (`key=value` pairs, `gc=s` for a scavenge, `gc=mc` for a mark-compact). */
function sumGc(lines: readonly string[]): GcSums {
  const sums: GcSums = { scavenges: 0, scavengeMs: 0, promotedBytes: 0, markCompacts: 0, markCompactMs: 0 };
  for (const line of lines) {
    const kind = / gc=(s|mc) /.exec(line)?.[1];
    if (!kind) continue;
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

/** The child: opens the producer, submits `tasks` with `inFlight` in flight, prints `RESULT <tasks/s>`. */
async function child(system: SystemName, queue: string, tasks: number, inFlight: number): Promise<void> {
  const driver = await loadDriver(system);
  const producer = await driver.openProducer(queue);
  const started = now();
  await drive(producer, { kind: 'concurrent', inFlight }, tasks, () => {});
  const seconds = (now() - started) / 1000;
  await producer.close();
  process.stdout.write(`RESULT ${Math.round(tasks / seconds)}\n`);
}

async function runChild(
  system: SystemName,
  tasks: number,
  inFlight: number,
): Promise<{ perSecond: number; gc: GcSums }> {
  const queue = `bench-gc-${randomUUID()}`;
  const script = fileURLToPath(import.meta.url);
  const args = ['--trace-gc-nvp', script, '--child', system, '--queue', queue];
  args.push('--tasks', String(tasks), '--in-flight', String(inFlight));
  const output: string[] = [];
  const exitCode = await new Promise<number | null>((resolve, reject) => {
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
  const admin = await openAdmin(system);
  try {
    await admin.remove(queue);
  } finally {
    await admin.close();
  }
  const result = output.find((line) => line.startsWith('RESULT '));
  if (exitCode !== 0 || !result) throw new Error(`${system}: the producer exited with ${exitCode}`);
  return { perSecond: Number(result.slice('RESULT '.length)), gc: sumGc(output) };
}

function isSystem(value: string): value is SystemName {
  return (SYSTEM_NAMES as readonly string[]).includes(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      queue: { type: 'string' },
      systems: { type: 'string', default: 'raw,taskq-amqp' },
      tasks: { type: 'string', default: '100000' },
      'in-flight': { type: 'string', default: '1000' },
      runs: { type: 'string', default: '2' },
    },
  });
  const tasks = positiveInteger('--tasks', values.tasks);
  const inFlight = positiveInteger('--in-flight', values['in-flight']);
  const runs = positiveInteger('--runs', values.runs);
  if (values.child !== undefined) {
    if (!isSystem(values.child) || values.queue === undefined) throw new Error('--child needs a system and --queue');
    return child(values.child, values.queue, tasks, inFlight);
  }
  const systems = values.systems.split(',');
  for (const system of systems) if (!isSystem(system)) throw new Error(`unknown system ${system}`);
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  console.log(`${tasks} submits, ${inFlight} in flight, per run:`);
  console.log(
    '| system | run | submits/s | scavenges | scavenge pause ms | promoted MB | mark-compacts | their pause ms |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (let run = 1; run <= runs; run++) {
    for (const system of systems as SystemName[]) {
      const { perSecond, gc } = await runChild(system, tasks, inFlight);
      console.log(
        `| ${system} | ${run} | ${perSecond} | ${gc.scavenges} | ${gc.scavengeMs.toFixed(0)} | ${mb(gc.promotedBytes)} | ${gc.markCompacts} | ${gc.markCompactMs.toFixed(0)} |`,
      );
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
