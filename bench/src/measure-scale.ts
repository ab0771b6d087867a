/**
 * Scale rows (`--only scale`, `--only scale --cluster`): 1, 2, 4 and 8 worker
 * processes consuming one queue, fed by one producer child with `submitMany`,
 * on an I/O-bound task (`await sleep(5)`) and a CPU-bound one (~1 ms of
 * hashing). Each point reports end-to-end tasks/s, the CPU per task of the
 * workers, the producer and the broker, how many cores the broker used, how
 * busy the whole machine was, and the load average when it started: on a
 * shared 2-core machine that says whether the broker, the machine or the
 * workers' concurrency was the limit.
 */
import os from 'node:os';
import { now, sleep } from './clock.js';
import {
  BATCH,
  SCALE_CONCURRENCY,
  SCALE_CPU_TASKS,
  SCALE_IO_TASKS,
  SCALE_IO_WIDE_CONCURRENCY,
  SCALE_PROGRESS_MS,
  SCALE_WORKERS,
} from './config.js';
import { Child, Watchdog } from './host.js';
import type { BenchTask, SystemName } from './ipc.js';
import { cleanup, createQueueName, type MeasureContext, message, scaled } from './measure.js';
import type { Admin } from './scenarios/types.js';
import { startMachineCpu, startServerCpu } from './server-cpu.js';
import { type Summary, summarize } from './stats.js';
import { cell, renderTable } from './table.js';
import { IO_WAIT_MS } from './tasks.js';

export type ScaleKind = 'io' | 'cpu';
export type ScaleQueueType = 'classic' | 'quorum';

const TASK_OF: Record<ScaleKind, BenchTask> = { io: 'wait', cpu: 'hash' };
const KIND_LABEL: Record<ScaleKind, string> = { io: `I/O (sleep ${IO_WAIT_MS} ms)`, cpu: 'CPU (~1 ms hashing)' };

/** One cell of the scale table: this many workers with this concurrency, on this task and queue type. */
export interface ScalePoint {
  readonly kind: ScaleKind;
  readonly queueType: ScaleQueueType;
  readonly workers: number;
  readonly concurrency: number;
  readonly tasks: number;
}

/** Where the scale rows run: the shared broker, or the bench's throw-away cluster. */
export interface ScaleTarget {
  readonly name: 'one node' | 'cluster';
  /** Worker `i`'s broker URLs (on a cluster every node, starting with another one for each worker). */
  readonly urlsFor: (worker: number) => readonly string[];
  /** The broker processes whose CPU is counted (every node of a cluster). */
  readonly brokerPids: () => readonly number[] | undefined;
  readonly admin: (queueType: ScaleQueueType) => Promise<Admin>;
  readonly queueTypes: readonly ScaleQueueType[];
}

export interface ScaleFigures {
  rate?: number;
  /** CPU microseconds per task: all workers together, the producer, the broker (all nodes). */
  workerCpu?: number;
  producerCpu?: number;
  brokerCpu?: number;
  /** Broker CPU time over wall time: how many of the machine's cores the broker kept busy. */
  brokerCores?: number;
  /** All workers' CPU time over the run's wall time: the cores they used together (a process uses at most one). */
  workerCores?: number;
  /** Share of the whole machine's CPU time that was busy (everything on it, not only the bench). */
  machineBusy?: number;
  /** 1-minute load average when the measurement started. */
  load1: number;
  /** Fewest and most tasks one worker ran. */
  perWorkerMin?: number;
  perWorkerMax?: number;
  errors: string[];
}

export interface ScaleResult {
  readonly target: ScaleTarget['name'];
  readonly point: ScalePoint;
  readonly runs: ScaleFigures[];
}

export function scaleKinds(only: readonly string[]): ScaleKind[] {
  if (only.includes('scale')) return ['io', 'cpu'];
  return (['io', 'cpu'] as const).filter((kind) => only.includes(`scale-${kind}`));
}

/** Every point of the chosen kinds: N = 1, 2, 4, 8 at the default concurrency, and for I/O one wide worker. */
export function scalePoints(kinds: readonly ScaleKind[], target: ScaleTarget, scale: number): ScalePoint[] {
  const points: ScalePoint[] = [];
  for (const kind of kinds) {
    const tasks = scaled(kind === 'io' ? SCALE_IO_TASKS : SCALE_CPU_TASKS, scale);
    for (const queueType of target.queueTypes) {
      for (const workers of SCALE_WORKERS)
        points.push({ kind, queueType, workers, concurrency: SCALE_CONCURRENCY, tasks });
      if (kind === 'io') points.push({ kind, queueType, workers: 1, concurrency: SCALE_IO_WIDE_CONCURRENCY, tasks });
    }
  }
  return points;
}

function systemOf(queueType: ScaleQueueType): SystemName {
  return queueType === 'quorum' ? 'taskq-quorum' : 'taskq-amqp';
}

/** Resolves once `done()` holds (or `signal` aborts), checking every few ms; the caller's watchdog ends a stalled run. */
async function until(done: () => boolean, signal: AbortSignal): Promise<void> {
  while (!done() && !signal.aborted) await sleep(5);
}

/** One measurement: fresh queue, N workers ready, then the producer; ends when the workers completed every task. */
export async function measureScalePoint(point: ScalePoint, target: ScaleTarget): Promise<ScaleFigures> {
  const figures: ScaleFigures = { load1: os.loadavg()[0] ?? 0, errors: [] };
  const label = `scale-${point.kind} ${point.queueType} ${point.workers}x${point.concurrency}`;
  const system = systemOf(point.queueType);
  const task = TASK_OF[point.kind];
  let admin: Admin;
  try {
    admin = await target.admin(point.queueType);
  } catch (error) {
    figures.errors.push(`admin: ${message(error)}`);
    return figures;
  }
  const queue = createQueueName(admin);
  const watchdog = new Watchdog();
  const workers = Array.from(
    { length: point.workers },
    (_, i) =>
      new Child(
        `${label} worker ${i + 1}`,
        'worker',
        {
          role: 'worker',
          system,
          queue,
          expected: point.tasks,
          concurrency: point.concurrency,
          latency: false,
          samples: 0,
          reportOnRequest: true,
          progressEveryMs: SCALE_PROGRESS_MS,
          setup: { urls: target.urlsFor(i), task },
        },
        watchdog,
      ),
  );
  let producer: Child | undefined;
  const polling = new AbortController();
  try {
    const ready = await Promise.all(workers.map((worker) => worker.ready()));
    producer = new Child(
      `${label} producer`,
      'producer',
      {
        role: 'producer',
        system,
        queue,
        count: point.tasks,
        shape: { kind: 'batched', batch: BATCH },
        setup: { urls: target.urlsFor(0), task },
      },
      watchdog,
    );
    await producer.ready();
    figures.load1 = os.loadavg()[0] ?? figures.load1;
    const brokerCpu = startServerCpu('beam.smp', target.brokerPids());
    const machineCpu = startMachineCpu();
    const windowStart = now();
    producer.send({ type: 'go' });
    const started = await watchdog.guard(producer.next('started'), `${label}`);
    const completed = (): number => workers.reduce((sum, worker) => sum + worker.progress, 0);
    await watchdog.guard(
      until(() => completed() >= point.tasks, polling.signal),
      `${label} (${completed()} of ${point.tasks} completed)`,
    );
    const brokerUs = brokerCpu();
    figures.machineBusy = machineCpu();
    const windowUs = (now() - windowStart) * 1000;
    for (const worker of workers) worker.send({ type: 'report' });
    const done = await Promise.all(workers.map((worker) => watchdog.guard(worker.next('done'), `${label} report`)));
    const confirmed = await watchdog.guard(producer.next('confirmed'), `${label}`);

    const counts = done.map((d) => d.count);
    const total = counts.reduce((a, b) => a + b, 0);
    if (total !== point.tasks) figures.errors.push(`${total} tasks completed for ${point.tasks} submitted`);
    const lastAt = Math.max(...done.filter((d) => d.count > 0).map((d) => d.lastAt));
    figures.rate = (point.tasks / (lastAt - started.at)) * 1000;
    const workerUs = done.reduce((sum, d, i) => sum + d.cpuUs - (ready[i]?.cpuUs ?? d.cpuUs), 0);
    figures.workerCpu = workerUs / point.tasks;
    figures.workerCores = workerUs / ((lastAt - started.at) * 1000);
    figures.producerCpu = (confirmed.cpuUs - started.cpuUs) / point.tasks;
    if (brokerUs !== undefined) {
      figures.brokerCpu = brokerUs / point.tasks;
      figures.brokerCores = brokerUs / windowUs;
    }
    figures.perWorkerMin = Math.min(...counts);
    figures.perWorkerMax = Math.max(...counts);
  } catch (error) {
    figures.errors.push(message(error));
  } finally {
    polling.abort();
    await Promise.all([producer?.stop(), ...workers.map((worker) => worker.stop())]);
    await cleanup(admin, queue, figures.errors);
  }
  return figures;
}

/** Runs every point `runs` times, runs as the outer loop (as the main table does). */
export async function measureScale(
  points: readonly ScalePoint[],
  target: ScaleTarget,
  runs: number,
  context: MeasureContext,
): Promise<ScaleResult[]> {
  const results: ScaleResult[] = points.map((point) => ({ target: target.name, point, runs: [] }));
  for (let run = 0; run < runs; run++) {
    context.log(`scale on ${target.name}: run ${run + 1}/${runs}`);
    for (const result of results) {
      const { kind, queueType, workers, concurrency, tasks } = result.point;
      context.log(`  scale-${kind} ${queueType}: ${workers} worker(s) x ${concurrency}, ${tasks} tasks`);
      const figures = await measureScalePoint(result.point, target);
      for (const error of figures.errors) context.log(`    ${error}`);
      result.runs.push(figures);
    }
  }
  return results;
}

type Key = Exclude<keyof ScaleFigures, 'errors'>;

function summary(result: ScaleResult, key: Key): Summary | undefined {
  return summarize(result.runs.map((figures) => figures[key]));
}

function med(result: ScaleResult, key: Key): number | undefined {
  return summary(result, key)?.median;
}

function fixed(value: number | undefined, digits = 0): string {
  return value === undefined ? '–' : value.toFixed(digits);
}

/** The I/O-bound task's ceiling for a point: tasks in flight over the wait, before any CPU cost. */
function ioCeiling(point: ScalePoint): number | undefined {
  return point.kind === 'io' ? (point.workers * point.concurrency * 1000) / IO_WAIT_MS : undefined;
}

function sameSeries(a: ScalePoint, b: ScalePoint): boolean {
  return a.kind === b.kind && a.queueType === b.queueType && a.concurrency === b.concurrency;
}

/** Which limit a point ran into, from its own figures. */
function limit(result: ScaleResult): string {
  const rate = med(result, 'rate');
  const busy = med(result, 'machineBusy');
  const broker = med(result, 'brokerCores');
  const ceiling = ioCeiling(result.point);
  const workers = med(result, 'workerCores');
  if (rate === undefined) return 'failed';
  if (ceiling !== undefined && rate >= 0.85 * ceiling) return 'concurrency';
  // A process runs its JavaScript on one core: CPU-bound workers that each keep one busy are at their limit.
  if (workers !== undefined && workers >= 0.85 * result.point.workers) return 'worker processes (1 core each)';
  if (busy !== undefined && busy >= 0.9)
    return broker !== undefined && broker >= 0.9 ? 'machine (broker ~1 core)' : 'machine';
  if (broker !== undefined && broker >= 0.9) return 'broker';
  // Each of the `concurrency` slots waits for the task, then for the ack and the next delivery: below the ceiling.
  if (ceiling !== undefined) return 'concurrency + round trip';
  return 'none reached';
}

/** Markdown table of one target's points, then one line per series saying where it stopped gaining. */
export function renderScale(results: readonly ScaleResult[], cpus: number): string {
  if (results.length === 0) return '';
  const target = results[0]?.target ?? 'one node';
  const rows = results.map((result) => {
    const p = result.point;
    const base = results.find((r) => sameSeries(r.point, p) && r.point.workers === 1);
    const rate = med(result, 'rate');
    const baseRate = base ? med(base, 'rate') : undefined;
    const failed = result.runs.some((figures) => figures.errors.length > 0) ? ' *' : '';
    const ceiling = ioCeiling(p);
    const cpu = [med(result, 'workerCpu'), med(result, 'producerCpu'), med(result, 'brokerCpu')]
      .map((x) => fixed(x))
      .join(' / ');
    const spread = p.workers > 1 ? `${fixed(med(result, 'perWorkerMin'))}–${fixed(med(result, 'perWorkerMax'))}` : '–';
    return [
      `${KIND_LABEL[p.kind]}, ${p.queueType}${failed}`,
      `${p.workers} x ${p.concurrency}`,
      cell(summary(result, 'rate')),
      rate !== undefined && baseRate !== undefined && p.concurrency === SCALE_CONCURRENCY
        ? `${(rate / baseRate).toFixed(2)}`
        : '–',
      ceiling !== undefined ? Math.round(ceiling).toLocaleString('en-US') : '–',
      cpu,
      fixed(med(result, 'workerCores'), 2),
      fixed(med(result, 'brokerCores'), 2),
      `${fixed((med(result, 'machineBusy') ?? Number.NaN) * 100)} %`,
      fixed(med(result, 'load1'), 2),
      spread,
      limit(result),
    ];
  });
  const out = [
    renderTable(
      [
        `scale on ${target}: task, queue`,
        'workers x concurrency',
        'e2e tasks/s',
        'x 1 worker',
        'I/O ceiling',
        'CPU µs/task W / P / S',
        'worker cores',
        'broker cores',
        `machine busy (${cpus} cores)`,
        'load 1m',
        'tasks per worker',
        'limit',
      ],
      rows,
    ),
    `W = all workers, P = the producer, S = the broker (every node of a cluster), each per task; worker cores, broker cores = their CPU time / wall time; ` +
      `machine busy = all CPU time used on the machine (anything running) / (wall time x ${cpus} cores); ` +
      `I/O ceiling = workers x concurrency / ${IO_WAIT_MS} ms; limit: concurrency = within 15 % of that ceiling, worker processes = each near one core, ` +
      `machine = over 90 % busy, broker = over 0.9 cores, concurrency + round trip = none of these (each slot also waits for the ack and the next delivery).`,
  ];
  const series = results.filter((r) => r.point.workers === 1 && r.point.concurrency === SCALE_CONCURRENCY);
  for (const first of series) {
    const points = results.filter((r) => sameSeries(r.point, first.point));
    const best = Math.max(...points.map((r) => med(r, 'rate') ?? 0));
    if (!(best > 0)) continue;
    // The knee: the fewest workers that already reach 90 % of the best rate.
    const knee = points.find((r) => (med(r, 'rate') ?? 0) >= 0.9 * best);
    if (!knee) continue;
    out.push(
      `${KIND_LABEL[first.point.kind]}, ${first.point.queueType}: ${knee.point.workers} worker(s) reach 90 % of the best ` +
        `${Math.round(best).toLocaleString('en-US')} tasks/s; limit there: ${limit(knee)} ` +
        `(machine ${fixed((med(knee, 'machineBusy') ?? Number.NaN) * 100)} % busy, broker ${fixed(med(knee, 'brokerCores'), 2)} cores).`,
    );
  }
  const notes: string[] = [];
  for (const result of results)
    result.runs.forEach((figures, i) => {
      for (const error of figures.errors)
        notes.push(
          `* scale-${result.point.kind} ${result.point.queueType} ${result.point.workers}x${result.point.concurrency} run ${i + 1}: ${error}`,
        );
    });
  return [...out, ...notes].join('\n');
}

/** The shared broker of BENCH_AMQP_URL: classic and quorum queues. */
export function oneNodeTarget(url: string, admins: (queueType: ScaleQueueType) => Promise<Admin>): ScaleTarget {
  return {
    name: 'one node',
    urlsFor: () => [url],
    brokerPids: () => undefined,
    admin: admins,
    queueTypes: ['classic', 'quorum'],
  };
}
