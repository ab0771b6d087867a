/**
 * One measurement = fresh queue, fresh children, one figure, queue deleted.
 * Fresh processes every time keep one measurement's JIT state, buffers and
 * garbage out of the next; a fresh queue keeps leftovers out. Every wait is
 * guarded by the stall watchdog, and cleanup runs whatever happened.
 */
import { randomUUID } from 'node:crypto';
import { withTimeout } from './clock.js';
import {
  CONCURRENCY,
  IN_FLIGHT,
  LATENCY_RATE,
  LATENCY_SECONDS,
  LATENCY_WARMUP_SECONDS,
  MIN_TASKS,
  SOAK_SAMPLES,
} from './config.js';
import { Child, type ChildScript, Watchdog } from './host.js';
import type { InProcessConfig, MemorySample, SystemName } from './ipc.js';
import type { LoadShape } from './load.js';
import type { Row } from './rows.js';
import { type Admin, openAdmin } from './scenarios/types.js';
import { type ServerName, startServerCpu } from './server-cpu.js';
import { percentile, rate } from './stats.js';

const MB = 1024 * 1024;
export const CLEANUP_MS = 30_000;

/** What one run of one row produced. Missing figures mean "not measured" or "failed" (see errors). */
export interface Figures {
  submit?: number;
  e2e?: number;
  p50?: number;
  p99?: number;
  /** p99 of the latency run's warm-up tasks: a fresh worker's first seconds (not held to a target). */
  p99Warmup?: number;
  /** Worker RSS in MB when ready and after the last e2e task. */
  rssBefore?: number;
  rssAfter?: number;
  /** CPU microseconds per task: producer during submit-only, worker during end-to-end. */
  producerCpu?: number;
  workerCpu?: number;
  /** Broker (beam.smp) or Redis CPU microseconds per task, during submit-only and end-to-end. */
  serverCpuSubmit?: number;
  serverCpuE2e?: number;
  /** Outbox rows: transactions committed and published per second (submit-only). */
  transactions?: number;
  /** Outbox rows: ms from a transaction's COMMIT resolving to the broker confirm of its tasks (submit-only). */
  commitPublishP50?: number;
  commitPublishP99?: number;
  /** Outbox rows: the part of it from the COMMIT to the publish being called (taskq's; the rest is the broker's). */
  commitSendP50?: number;
  commitSendP99?: number;
  /**
   * Outbox rows: PostgreSQL CPU microseconds per task (the baseline row: per transaction), during submit-only and
   * end-to-end: the measurement's own connections plus PostgreSQL's background processes (see outbox-db.ts).
   */
  dbCpuSubmit?: number;
  dbCpuE2e?: number;
  /** Problems that did not stop the measurement (e.g. a backlog that does not match N). */
  warnings: string[];
  errors: string[];
}

export interface Profiling {
  /** Which child of a broker scenario runs under --cpu-prof. */
  readonly role: 'worker' | 'producer';
  readonly dir: string;
}

export interface MeasureContext {
  readonly scale: number;
  readonly run: number;
  readonly profiling?: Profiling;
  readonly admins: Admins;
  /** One line of progress for the terminal. */
  readonly log: (line: string) => void;
}

/** One admin connection per system, opened on first use and shared by every measurement. */
export class Admins {
  readonly #open = new Map<SystemName, Promise<Admin>>();

  get(system: SystemName): Promise<Admin> {
    let admin = this.#open.get(system);
    if (!admin) {
      admin = openAdmin(system);
      this.#open.set(system, admin);
    }
    return admin;
  }

  async closeAll(): Promise<void> {
    for (const admin of this.#open.values()) await (await admin.catch(() => undefined))?.close().catch(() => undefined);
    this.#open.clear();
  }
}

export function scaled(tasks: number, scale: number): number {
  return Math.max(MIN_TASKS, Math.round(tasks * scale));
}

/** N of a row at this scale; an outbox row's N is rounded to whole transactions. */
export function rowTasks(row: Row, scale: number): number {
  const per = row.outbox?.kind === 'transactions' ? row.outbox.perTransaction : 1;
  return Math.max(1, Math.round(scaled(row.tasks, scale) / per)) * per;
}

/** Latency run: warm-up tasks first (not counted), then the measured ones, all at LATENCY_RATE. */
function latencyTasks(scale: number): { warmup: number; measured: number; total: number } {
  const warmup = Math.max(10, Math.round(LATENCY_RATE * LATENCY_WARMUP_SECONDS * scale));
  const measured = Math.max(50, Math.round(LATENCY_RATE * LATENCY_SECONDS * scale));
  return { warmup, measured, total: warmup + measured };
}

/** p50/p99 of the latencies after the warm-up; they arrive in task start order. */
function latencyFigures(figures: Figures, all: readonly number[], warmup: number): void {
  const measured = all.slice(warmup);
  figures.p50 = percentile(measured, 50);
  figures.p99 = percentile(measured, 99);
  figures.p99Warmup = percentile(all.slice(0, warmup), 99);
}

function serverOf(system: SystemName): ServerName {
  return system.startsWith('bullmq') ? 'redis-server' : 'beam.smp';
}

function perTask(micros: number | undefined, n: number): number | undefined {
  return micros === undefined ? undefined : micros / n;
}

function mb(memory: MemorySample): number {
  return memory.rss / MB;
}

export function message(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}

export function execArgv(context: MeasureContext, script: ChildScript, name: string): string[] {
  const profiling = context.profiling;
  if (!profiling || (script !== 'inprocess' && script !== profiling.role)) return [];
  return ['--cpu-prof', `--cpu-prof-dir=${profiling.dir}`, `--cpu-prof-name=${name}-run${context.run}.cpuprofile`];
}

/** Queues created and not yet removed, so an interrupted bench can still delete them. */
const created = new Map<string, Admin>();

export function createQueueName(admin: Admin): string {
  const queue = `bench-${randomUUID()}`;
  created.set(queue, admin);
  return queue;
}

/** Removes the queue, never throwing: a failed cleanup is reported, not fatal. */
export async function cleanup(admin: Admin, queue: string, errors: string[]): Promise<void> {
  try {
    await withTimeout(admin.remove(queue), CLEANUP_MS, `delete ${queue}`);
    created.delete(queue);
  } catch (error) {
    errors.push(`cleanup of ${queue} failed: ${message(error)}`);
  }
}

/** Deletes every queue this bench created and has not deleted yet (used on Ctrl-C). */
export async function removeCreatedQueues(): Promise<void> {
  const errors: string[] = [];
  for (const [queue, admin] of [...created]) await cleanup(admin, queue, errors);
}

/** Submit-only: N tasks, no worker running; from the first submit until all are confirmed. */
async function measureSubmit(
  row: Row,
  system: SystemName,
  n: number,
  context: MeasureContext,
  figures: Figures,
): Promise<void> {
  const admin = await context.admins.get(system);
  const queue = createQueueName(admin);
  const watchdog = new Watchdog();
  const producer = new Child(
    `${row.id} producer`,
    'producer',
    { role: 'producer', system, queue, count: n, shape: row.shape },
    watchdog,
    {
      execArgv: execArgv(context, 'producer', `${row.id}-submit-producer`),
    },
  );
  try {
    await producer.ready();
    const serverCpu = startServerCpu(serverOf(system));
    producer.send({ type: 'go' });
    const started = await watchdog.guard(producer.next('started'), `${row.id} submit`);
    const confirmed = await watchdog.guard(producer.next('confirmed'), `${row.id} submit`);
    figures.submit = rate(n, started.at, confirmed.at);
    figures.serverCpuSubmit = perTask(serverCpu(), n);
    figures.producerCpu = (confirmed.cpuUs - started.cpuUs) / n;
    // A confirm alone does not prove the message is in the queue (an unroutable publish is confirmed too).
    const backlog = await withTimeout(admin.backlog(queue), CLEANUP_MS, 'backlog check');
    if (backlog !== n) figures.warnings.push(`submit-only: ${n} confirmed but ${backlog} waiting in the queue`);
  } finally {
    await producer.stop();
    await cleanup(admin, queue, figures.errors);
  }
}

interface FlowResult {
  readonly startedAt: number;
  readonly lastAt: number;
  readonly before: MemorySample;
  readonly after: MemorySample;
  readonly latencies: readonly number[];
  readonly samples: readonly { count: number; memory: MemorySample }[];
  /** Worker CPU from ready to the last task, and server CPU over the same span, microseconds. */
  readonly workerCpuUs: number;
  readonly serverCpuUs: number | undefined;
}

/** Worker started first, then the producer; ends when the worker completed all N. */
async function runFlow(
  row: Row,
  system: SystemName,
  what: string,
  n: number,
  shape: LoadShape,
  options: { latency: boolean; samples: number; workerArgv?: readonly string[] },
  context: MeasureContext,
  errors: string[],
): Promise<FlowResult> {
  const admin = await context.admins.get(system);
  const queue = createQueueName(admin);
  const watchdog = new Watchdog();
  const worker = new Child(
    `${row.id} worker`,
    'worker',
    {
      role: 'worker',
      system,
      queue,
      expected: n,
      concurrency: CONCURRENCY,
      latency: options.latency,
      samples: options.samples,
    },
    watchdog,
    { execArgv: [...(options.workerArgv ?? []), ...execArgv(context, 'worker', `${row.id}-${what}-worker`)] },
  );
  let producer: Child | undefined;
  try {
    const ready = await worker.ready();
    producer = new Child(
      `${row.id} producer`,
      'producer',
      { role: 'producer', system, queue, count: n, shape },
      watchdog,
      {
        execArgv: execArgv(context, 'producer', `${row.id}-${what}-producer`),
      },
    );
    await producer.ready();
    const serverCpu = startServerCpu(serverOf(system));
    producer.send({ type: 'go' });
    const started = await watchdog.guard(producer.next('started'), `${row.id} ${what}`);
    const done = await watchdog.guard(worker.next('done'), `${row.id} ${what}`);
    const serverCpuUs = serverCpu();
    await watchdog.guard(producer.next('confirmed'), `${row.id} ${what}`);
    return {
      workerCpuUs: done.cpuUs - ready.cpuUs,
      serverCpuUs,
      startedAt: started.at,
      lastAt: done.lastAt,
      before: ready.memory,
      after: done.memory,
      latencies: done.latencies,
      samples: worker.drain('memory'),
    };
  } finally {
    await Promise.all([producer?.stop(), worker.stop()]);
    await cleanup(admin, queue, errors);
  }
}

async function runInProcess(row: Row, config: InProcessConfig, context: MeasureContext) {
  const watchdog = new Watchdog();
  const child = new Child(`${row.id} ${config.measure}`, 'inprocess', config, watchdog, {
    execArgv: execArgv(context, 'inprocess', `${row.id}-${config.measure}`),
  });
  try {
    await child.ready();
    child.send({ type: 'go' });
    return await watchdog.guard(child.next('result'), `${row.id} ${config.measure}`);
  } finally {
    await child.stop();
  }
}

export async function step(figures: Figures, what: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    figures.errors.push(`${what}: ${message(error)}`);
  }
}

/** Measures every figure the row asks for; a failed figure is recorded and the others still run. */
export async function measureRow(row: Row, context: MeasureContext): Promise<Figures> {
  const figures: Figures = { warnings: [], errors: [] };
  if (row.pending) return figures;
  const n = rowTasks(row, context.scale);
  const paced: LoadShape = { kind: 'paced', perSecond: LATENCY_RATE };
  const latency = latencyTasks(context.scale);

  if (row.system === 'taskq-memory') {
    const base = { role: 'inprocess', concurrency: CONCURRENCY, shape: row.shape } as const;
    context.log(
      `  ${row.id}: submit-only, end-to-end (${n} tasks), latency (${latency.total} tasks at ${LATENCY_RATE}/s)`,
    );
    if (row.submit) {
      await step(figures, 'submit', async () => {
        const r = await runInProcess(row, { ...base, measure: 'submit', count: n }, context);
        figures.submit = rate(r.count, r.startedAt, r.endedAt);
        figures.producerCpu = r.cpuUs / n;
      });
    }
    if (row.e2e) {
      await step(figures, 'e2e', async () => {
        const r = await runInProcess(row, { ...base, measure: 'e2e', count: n }, context);
        figures.e2e = rate(r.count, r.startedAt, r.endedAt);
        figures.rssBefore = mb(r.before);
        figures.rssAfter = mb(r.after);
        // One process: this is producer and worker together.
        figures.workerCpu = r.cpuUs / n;
      });
    }
    if (row.latency) {
      await step(figures, 'latency', async () => {
        const r = await runInProcess(row, { ...base, measure: 'latency', count: latency.total, shape: paced }, context);
        latencyFigures(figures, r.latencies, latency.warmup);
      });
    }
    return figures;
  }
  if (row.system === 'taskq-outbox' || row.system === 'typeorm') {
    // Loaded only here, so the other rows never load TypeORM or pg.
    await (await import('./measure-outbox.js')).measureOutbox(row, context, figures);
    return figures;
  }

  const system = row.system;
  if (row.submit) {
    context.log(`  ${row.id}: submit-only, ${n} tasks`);
    await step(figures, 'submit', () => measureSubmit(row, system, n, context, figures));
  }
  if (row.e2e) {
    context.log(`  ${row.id}: end-to-end, ${n} tasks`);
    await step(figures, 'e2e', async () => {
      const r = await runFlow(
        row,
        system,
        'e2e',
        n,
        row.shape,
        { latency: false, samples: 0 },
        context,
        figures.errors,
      );
      figures.e2e = rate(n, r.startedAt, r.lastAt);
      figures.rssBefore = mb(r.before);
      figures.rssAfter = mb(r.after);
      figures.workerCpu = r.workerCpuUs / n;
      figures.serverCpuE2e = perTask(r.serverCpuUs, n);
    });
  }
  if (row.latency) {
    context.log(`  ${row.id}: latency, ${latency.warmup} + ${latency.measured} tasks at ${LATENCY_RATE}/s`);
    await step(figures, 'latency', async () => {
      const r = await runFlow(
        row,
        system,
        'latency',
        latency.total,
        paced,
        { latency: true, samples: 0 },
        context,
        figures.errors,
      );
      latencyFigures(figures, r.latencies, latency.warmup);
    });
  }
  return figures;
}

export interface SoakResult {
  readonly tasks: number;
  readonly rate?: number;
  readonly start?: MemorySample;
  readonly end?: MemorySample;
  readonly samples: readonly { count: number; memory: MemorySample }[];
  readonly errors: string[];
}

/**
 * Soak: many tasks through one taskq amqp worker started with --expose-gc,
 * so every memory sample is taken after a full collection and growth means
 * memory that is still referenced, not garbage not yet collected.
 */
export async function measureSoak(tasks: number, context: MeasureContext): Promise<SoakResult> {
  const errors: string[] = [];
  const row: Row = {
    id: 'soak',
    label: 'soak',
    system: 'taskq-amqp',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks,
    submit: false,
    e2e: true,
    latency: false,
  };
  try {
    const r = await runFlow(
      row,
      'taskq-amqp',
      'soak',
      tasks,
      row.shape,
      { latency: false, samples: SOAK_SAMPLES, workerArgv: ['--expose-gc'] },
      context,
      errors,
    );
    return {
      tasks,
      rate: rate(tasks, r.startedAt, r.lastAt),
      start: r.before,
      end: r.after,
      samples: r.samples,
      errors,
    };
  } catch (error) {
    errors.push(message(error));
    return { tasks, samples: [], errors };
  }
}
