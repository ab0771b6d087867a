/**
 * `npm run bench`: runs every scenario several times, prints one table
 * (medians, min–max, ratios taken within each run) and writes the figures to
 * results/latest.json. A separate command, never a test: nothing here asserts
 * a time; targets are reported as met or missed.
 *
 *   --runs N       runs per scenario (default 3)
 *   --scale X      multiply every N by X (0.1 for a quick smoke run)
 *   --only A,B     rows by id or prefix (raw, taskq, bullmq, taskq-memory, ...), or "soak"
 *   --no-soak      skip the soak
 *   --cluster      with --only scale: run the scale rows on a throw-away three-node cluster
 *                  (quorum queues, workers spread over the nodes) instead of the shared broker
 *                  ("store-list" in --only runs the task index measurement, which a full run also does;
 *                  "dashboard" the dashboard's pages over 1,000,000 status rows, likewise)
 *   --cpu-prof R   run the broker scenarios' R child (worker|producer) and the memory
 *                  scenario under node --cpu-prof; profiles go to results/profiles/
 *   --out FILE     where to write the JSON (default: results/latest.json for a full
 *                  run, results/partial.tmp.json otherwise, so a smoke run never
 *                  overwrites the committed figures)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BATCH,
  CONCURRENCY,
  CONFIRM_WINDOW,
  IN_FLIGHT,
  LATENCY_RATE,
  LATENCY_SECONDS,
  LATENCY_WARMUP_SECONDS,
  SOAK_SAMPLES,
  SOAK_TASKS,
} from './config.js';
import type { MemorySample } from './ipc.js';
import { killAllChildren } from './host.js';
import { describeMachine, type Machine } from './machine.js';
import {
  Admins,
  type Figures,
  type MeasureContext,
  measureRow,
  measureSoak,
  type Profiling,
  removeCreatedQueues,
  rowTasks,
  scaled,
  type SoakResult,
} from './measure.js';
import { type Figure, RATIOS, ROWS, type Row } from './rows.js';
import { type Summary, summarize } from './stats.js';
import { cell, renderTable } from './table.js';
import { DASHBOARD_ROWS, type DashboardResult, measureDashboard, renderDashboard } from './measure-dashboard.js';
import { measureStoreList, renderStoreList, STORE_LIST_ROWS, type StoreListResult } from './measure-store-list.js';
import { type ScaleKind, type ScaleResult, scaleKinds, renderScale } from './measure-scale.js';
import { runScale } from './scale.js';

interface Options {
  readonly runs: number;
  readonly scale: number;
  readonly only: readonly string[];
  readonly soak: boolean;
  /** Run the task index measurement (store.list() on a large PostgreSQL status table). */
  readonly storeList: boolean;
  readonly dashboard: boolean;
  /** Scale rows to run (`--only scale`, `scale-io`, `scale-cpu`), on the shared broker or a throw-away cluster. */
  readonly scaleRows: readonly ScaleKind[];
  readonly cluster: boolean;
  readonly profiling?: Profiling;
  readonly out: string;
  readonly full: boolean;
}

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

function isProfiledRole(role: string): role is Profiling['role'] {
  return role === 'worker' || role === 'producer';
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      scale: { type: 'string', default: '1' },
      only: { type: 'string' },
      'no-soak': { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const runs = Number(values.runs);
  const scale = Number(values.scale);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50)
    throw new Error(`--runs must be an integer 1..50, got ${values.runs}`);
  if (!(scale > 0 && scale <= 10)) throw new Error(`--scale must be in (0, 10], got ${values.scale}`);
  const role = values['cpu-prof'];
  if (role !== undefined && !isProfiledRole(role)) throw new Error(`--cpu-prof takes worker or producer, got ${role}`);
  const only = values.only
    ? values.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
  const profiling: Profiling | undefined =
    role !== undefined && isProfiledRole(role) ? { role, dir: `${resultsDir}profiles` } : undefined;
  const full = only.length === 0 && scale === 1 && !profiling && !values['no-soak'] && !values.cluster;
  const kinds = scaleKinds(only);
  if (values.cluster && kinds.length === 0)
    throw new Error('--cluster goes with --only scale (or scale-io, scale-cpu)');
  return {
    runs,
    scale,
    only,
    soak: !values['no-soak'] && (only.length === 0 || only.includes('soak')),
    storeList: only.length === 0 || only.includes('store-list'),
    dashboard: only.length === 0 || only.includes('dashboard'),
    scaleRows: kinds,
    cluster: values.cluster,
    ...(profiling ? { profiling } : {}),
    out: values.out ?? `${resultsDir}${full ? 'latest.json' : 'partial.tmp.json'}`,
    full,
  };
}

function selected(row: Row, only: readonly string[]): boolean {
  if (only.length === 0) return true;
  return only.some((token) => row.id === token || row.system === token || row.id.startsWith(`${token}-`));
}

const FIGURES = [
  'submit',
  'e2e',
  'p50',
  'p99',
  'p99Warmup',
  'rssBefore',
  'rssAfter',
  'producerCpu',
  'workerCpu',
  'serverCpuSubmit',
  'serverCpuE2e',
  'transactions',
  'commitPublishP50',
  'commitPublishP99',
  'commitSendP50',
  'commitSendP99',
  'dbCpuSubmit',
  'dbCpuE2e',
] as const;
type SummaryKey = (typeof FIGURES)[number];

interface RowResult {
  readonly row: Row;
  readonly tasks: number;
  readonly runs: Figures[];
}

function summaries(result: RowResult): Record<SummaryKey, Summary | undefined> {
  const out = {} as Record<SummaryKey, Summary | undefined>;
  for (const key of FIGURES) out[key] = summarize(result.runs.map((f) => f[key]));
  return out;
}

interface RatioResult {
  readonly label: string;
  readonly values: (number | undefined)[];
  readonly summary: Summary | undefined;
  readonly target?: number;
  readonly meets?: boolean;
}

function ratios(results: readonly RowResult[], runs: number): RatioResult[] {
  const byId = new Map(results.map((r) => [r.row.id, r]));
  const figure = (id: string, f: Figure, run: number): number | undefined => byId.get(id)?.runs[run]?.[f];
  return RATIOS.filter((r) => byId.has(r.numerator.row) && byId.has(r.denominator.row)).map((ratio) => {
    const values = Array.from({ length: runs }, (_, run) => {
      const a = figure(ratio.numerator.row, ratio.numerator.figure, run);
      const b = figure(ratio.denominator.row, ratio.denominator.figure, run);
      return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
    });
    const summary = summarize(values);
    return {
      label: ratio.label,
      values,
      summary,
      ...(ratio.target !== undefined ? { target: ratio.target } : {}),
      ...(ratio.target !== undefined && summary ? { meets: summary.median >= ratio.target } : {}),
    };
  });
}

/**
 * The latency targets against the limit, run by run: each row's p99 at most 1.1 x raw amqplib's, its p50 at most
 * 0.1 ms above raw's; and, for information, the same p99 ratio over the warm-up (a freshly started worker).
 */
function latencyAgainstRaw(
  latency: readonly RowResult[],
): { label: string; summary: Summary | undefined; target: string; meets: boolean | undefined }[] {
  const raw = latency.find((r) => r.row.system === 'raw');
  if (!raw) return [];
  const perRun = (r: RowResult, f: (row: Figures, limit: Figures) => number | undefined) =>
    summarize(r.runs.map((run, i) => (raw.runs[i] ? f(run, raw.runs[i]) : undefined)));
  return latency
    .filter((r) => r.row.system.startsWith('taskq') && r.row.system !== 'taskq-memory')
    .flatMap((r) => {
      const p99 = perRun(r, (a, b) => (a.p99 !== undefined && b.p99 ? a.p99 / b.p99 : undefined));
      const p50 = perRun(r, (a, b) => (a.p50 !== undefined && b.p50 !== undefined ? a.p50 - b.p50 : undefined));
      const warm = perRun(r, (a, b) =>
        a.p99Warmup !== undefined && b.p99Warmup ? a.p99Warmup / b.p99Warmup : undefined,
      );
      return [
        { label: `${r.row.label}: p99 / raw p99`, summary: p99, target: '≤ 1.1', meets: p99 && p99.median <= 1.1 },
        {
          label: `${r.row.label}: p50 - raw p50 (ms)`,
          summary: p50,
          target: '≤ 0.1',
          meets: p50 && p50.median <= 0.1,
        },
        { label: `${r.row.label}: warm-up p99 / raw warm-up p99`, summary: warm, target: '(info)', meets: undefined },
      ];
    });
}

function machineLine(m: Machine): string {
  return [
    `machine: ${m.cpu} x${m.cpus}, ${m.memoryGb} GB, ${m.platform}`,
    `software: Node ${m.node}, ${m.rabbitmq}, ${m.redis} (BullMQ client: ${m.bullmqClient}); taskq commit ${m.commit}; ${m.date}`,
  ].join('\n');
}

function verdict(meets: boolean | undefined): string {
  if (meets === undefined) return '';
  return meets ? 'met' : 'MISSED';
}

interface Load {
  readonly before: readonly number[];
  readonly after: readonly number[];
}

function render(
  options: Options,
  machine: Machine,
  load: Load,
  results: readonly RowResult[],
  ratioResults: readonly RatioResult[],
  soak: SoakResult | undefined,
): string {
  const out: string[] = [];
  out.push(
    `taskq bench: ${options.runs} run(s) per scenario, scale ${options.scale}; cells are median (min–max) over runs`,
  );
  out.push(machineLine(machine));
  const fmt = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  out.push(`load average (1/5/15 min): ${fmt(load.before)} at start, ${fmt(load.after)} at end`);
  out.push(
    `settings: durable queues, persistent messages, publisher confirms; prefetch/concurrency ${CONCURRENCY}; raw confirm window ${CONFIRM_WINDOW}; ` +
      `taskq ${IN_FLIGHT} submits in flight; batches of ${BATCH}; latency at ${LATENCY_RATE} tasks/s for ${LATENCY_SECONDS * options.scale} s after a ${LATENCY_WARMUP_SECONDS * options.scale} s warm-up`,
  );
  out.push('');
  const rows = results.map((r) => {
    const s = summaries(r);
    const flag = r.runs.some((f) => f.warnings.length > 0 || f.errors.length > 0) ? ' *' : '';
    if (r.row.pending) return [`${r.row.label} (not yet measured)`, '–', '–', '–', '–', '–', '–', '–'];
    const rss = s.rssBefore && s.rssAfter ? `${s.rssBefore.median.toFixed(0)} → ${s.rssAfter.median.toFixed(0)}` : '–';
    const cpu = [s.producerCpu, s.workerCpu, s.serverCpuSubmit, s.serverCpuE2e]
      .map((x) => (x ? x.median.toFixed(0) : '–'))
      .join(' / ');
    return [
      `${r.row.label}${flag}`,
      r.tasks.toLocaleString('en-US'),
      cell(s.submit),
      cell(s.e2e),
      cell(s.p50, 2),
      cell(s.p99, 2),
      rss,
      cpu,
    ];
  });
  out.push(
    renderTable(
      [
        'scenario',
        'N',
        'submit-only tasks/s',
        'end-to-end tasks/s',
        'p50 ms',
        'p99 ms',
        'worker RSS MB',
        'CPU µs/task P / W / S·sub / S·e2e',
      ],
      rows,
    ),
  );
  out.push(
    'CPU µs/task (medians): P = producer during submit-only, W = worker during end-to-end (memory row: the one process), ' +
      'S = server (RabbitMQ beam.smp or redis-server) during submit-only and end-to-end; steadier than rates on a busy machine.',
  );
  for (const r of results) if (r.row.pending) out.push(`${r.row.label}: ${r.row.pending}`);
  const outboxRows = results.filter((r) => r.row.outbox);
  if (outboxRows.length > 0) {
    out.push('');
    out.push(
      renderTable(
        [
          'outbox (TypeORM/PostgreSQL → RabbitMQ)',
          'N',
          'tx/s',
          'tasks/s (submit-only)',
          'e2e tasks/s',
          'commit → confirm p50 ms',
          'p99 ms',
          'PG CPU µs/task sub / e2e',
        ],
        outboxRows.map((r) => {
          const s = summaries(r);
          const db = [s.dbCpuSubmit, s.dbCpuE2e].map((x) => (x ? x.median.toFixed(0) : '–')).join(' / ');
          return [
            r.row.label,
            r.tasks.toLocaleString('en-US'),
            cell(s.transactions),
            cell(s.submit),
            cell(s.e2e),
            cell(s.commitPublishP50, 2),
            cell(s.commitPublishP99, 2),
            db,
          ];
        }),
      ),
    );
    out.push(
      'outbox: tx/s and tasks/s = transactions committed and published per second, no worker running (relay row: rows swept, published and deleted per second; ' +
        "baseline row: the same transactions without taskq, its PG CPU per transaction; 'then submit' row: those transactions, each followed by a plain submit after its COMMIT, no outbox); commit → confirm = from the COMMIT resolving to the broker confirm of that transaction's tasks; " +
        "PG CPU = the measurement's own PostgreSQL backends plus PostgreSQL's background processes (other clients' backends left out).",
    );
    const targeted = outboxRows.filter((r) => r.row.confirmTarget);
    if (targeted.length > 0) {
      out.push('');
      out.push(
        renderTable(
          [
            'outbox latency target (COMMIT → broker confirm)',
            'p50 ms',
            'p99 ms',
            'of which COMMIT → publish called p50 / p99',
            'target',
            '',
          ],
          targeted.map((r) => {
            const s = summaries(r);
            const target = r.row.confirmTarget as NonNullable<Row['confirmTarget']>;
            const meets =
              s.commitPublishP50 && s.commitPublishP99
                ? s.commitPublishP50.median <= target.p50 && s.commitPublishP99.median <= target.p99
                : undefined;
            return [
              r.row.label,
              cell(s.commitPublishP50, 2),
              cell(s.commitPublishP99, 2),
              [s.commitSendP50, s.commitSendP99].map((x) => (x ? x.median.toFixed(2) : '–')).join(' / '),
              `p50 ≤ ${target.p50}, p99 ≤ ${target.p99}`,
              verdict(meets),
            ];
          }),
        ),
      );
    }
  }
  if (ratioResults.length > 0) {
    out.push('');
    out.push(
      renderTable(
        ['ratio (per run, then median)', 'value', 'target', ''],
        ratioResults.map((r) => [
          r.label,
          cell(r.summary, 2),
          r.target !== undefined ? `≥ ${r.target}` : '(info)',
          verdict(r.meets),
        ]),
      ),
    );
  }
  const latency = results.filter((r) => r.row.latency && !r.row.pending);
  if (latency.length > 0) {
    out.push('');
    out.push(
      renderTable(
        [
          'latency target (submit → task start)',
          'p50 ms',
          'p99 ms',
          'target p50 ≤ 1.5, p99 ≤ 5',
          'p99 ms in the warm-up (a fresh worker)',
        ],
        latency.map((r) => {
          const s = summaries(r);
          const meets = s.p50 && s.p99 ? s.p50.median <= 1.5 && s.p99.median <= 5 : undefined;
          return [r.row.label, cell(s.p50, 2), cell(s.p99, 2), verdict(meets), cell(s.p99Warmup, 2)];
        }),
      ),
    );
    const relative = latencyAgainstRaw(latency);
    if (relative.length > 0) {
      out.push('');
      out.push(
        renderTable(
          ['latency against raw amqplib (per run, then median)', 'value', 'target', ''],
          relative.map((r) => [r.label, cell(r.summary, 2), r.target, verdict(r.meets)]),
        ),
      );
    }
  }
  if (soak) {
    out.push('');
    const MB = 1024 * 1024;
    if (soak.start && soak.end) {
      const heapGrowth = (soak.end.heapUsed - soak.start.heapUsed) / MB;
      const rssGrowth = (soak.end.rss - soak.start.rss) / MB;
      const gcNote = soak.end.afterGc ? 'after global.gc()' : 'WITHOUT gc (not exposed)';
      out.push(
        renderTable(
          ['soak: taskq amqp, one worker', 'start MB', 'end MB', 'growth MB', 'target'],
          [
            [
              `heap used (${gcNote})`,
              (soak.start.heapUsed / MB).toFixed(1),
              (soak.end.heapUsed / MB).toFixed(1),
              heapGrowth.toFixed(1),
              `< 5 ${verdict(heapGrowth < 5)}`,
            ],
            [
              'external (Buffers)',
              (soak.start.external / MB).toFixed(1),
              (soak.end.external / MB).toFixed(1),
              ((soak.end.external - soak.start.external) / MB).toFixed(1),
              '',
            ],
            ['RSS', (soak.start.rss / MB).toFixed(1), (soak.end.rss / MB).toFixed(1), rssGrowth.toFixed(1), ''],
          ],
        ),
      );
      const trend = (pick: (m: MemorySample) => number): string =>
        soak.samples.map((s) => (pick(s.memory) / MB).toFixed(1)).join(', ');
      out.push(
        `soak: ${soak.tasks.toLocaleString('en-US')} tasks at ${Math.round(soak.rate ?? 0).toLocaleString('en-US')} tasks/s; every ${Math.round(soak.tasks / SOAK_SAMPLES).toLocaleString('en-US')} tasks:`,
      );
      out.push(`  heap used MB: ${trend((m) => m.heapUsed)}`);
      out.push(`  RSS MB:       ${trend((m) => m.rss)}`);
      const first = soak.samples[0];
      if (first) {
        // RSS rises while the worker warms up (JIT code, heap spaces sized by the first collections);
        // what matters for a leak is whether it keeps rising after that.
        out.push(
          `  after the first ${first.count.toLocaleString('en-US')} tasks: heap ${((soak.end.heapUsed - first.memory.heapUsed) / MB).toFixed(1)} MB, ` +
            `RSS ${((soak.end.rss - first.memory.rss) / MB).toFixed(1)} MB`,
        );
      }
    }
    for (const e of soak.errors) out.push(`soak error: ${e}`);
  }
  const notes: string[] = [];
  for (const r of results) {
    r.runs.forEach((f, i) => {
      for (const w of f.warnings) notes.push(`* ${r.row.id} run ${i + 1} warning: ${w}`);
      for (const e of f.errors) notes.push(`* ${r.row.id} run ${i + 1} FAILED: ${e}`);
    });
  }
  if (notes.length > 0) out.push('', ...notes);
  return out.join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const admins = new Admins();
  const rows = ROWS.filter((row) => selected(row, options.only));
  const interrupt = (): void => {
    process.stderr.write("\ninterrupted: stopping children and deleting this run's queues\n");
    killAllChildren();
    removeCreatedQueues()
      .finally(() => admins.closeAll())
      .finally(() =>
        rows.some((row) => row.outbox)
          ? import('./outbox-db.js').then((db) => db.dropCreatedSchemas(10_000))
          : undefined,
      )
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const machine = await describeMachine();
  log(machineLine(machine));
  // Other work on the machine moves wall-clock rates; the load average says how busy it was.
  const loadBefore = os.loadavg();
  const results: RowResult[] = rows.map((row) => ({
    row,
    tasks: row.pending ? 0 : rowTasks(row, options.scale),
    runs: [],
  }));

  // Runs are the outer loop: every scenario once, then again, so slow drift
  // of the machine (page cache, broker state) spreads over all scenarios.
  for (let run = 0; run < options.runs; run++) {
    log(`run ${run + 1}/${options.runs}`);
    const context: MeasureContext = {
      scale: options.scale,
      run: run + 1,
      admins,
      log,
      ...(options.profiling ? { profiling: options.profiling } : {}),
    };
    for (const result of results) {
      if (!result.row.pending) log(` ${result.row.label}`);
      result.runs.push(await measureRow(result.row, context));
    }
  }
  let soak: SoakResult | undefined;
  if (options.soak) {
    const tasks = scaled(SOAK_TASKS, options.scale);
    log(`soak: ${tasks} tasks through one taskq amqp worker`);
    soak = await measureSoak(tasks, {
      scale: options.scale,
      run: 1,
      admins,
      log,
      ...(options.profiling ? { profiling: options.profiling } : {}),
    });
  }
  let storeList: StoreListResult | undefined;
  if (options.storeList) {
    const rows = scaled(STORE_LIST_ROWS, options.scale);
    log(`store-list: store.list() pages over ${rows} PostgreSQL status rows`);
    storeList = await measureStoreList(rows, log);
  }
  let dashboardResult: DashboardResult | undefined;
  if (options.dashboard) {
    const rows = scaled(DASHBOARD_ROWS, options.scale);
    log(`dashboard: pages over ${rows} PostgreSQL status rows`);
    dashboardResult = await measureDashboard(rows, log);
  }
  let scale: ScaleResult[] | undefined;
  if (options.scaleRows.length > 0) {
    scale = await runScale(
      options.scaleRows,
      options.cluster,
      { scale: options.scale, run: 1, admins, log },
      options.runs,
    );
  }
  await admins.closeAll();
  const load = { before: loadBefore, after: os.loadavg() };

  const ratioResults = ratios(results, options.runs);
  if (results.length > 0 || soak)
    process.stdout.write(`${render(options, machine, load, results, ratioResults, soak)}\n`);
  else
    process.stdout.write(
      `${machineLine(machine)}\nload average (1/5/15 min): ${load.before.map((x) => x.toFixed(2)).join(' ')} at start, ${load.after.map((x) => x.toFixed(2)).join(' ')} at end\n`,
    );
  if (scale) process.stdout.write(`\n${renderScale(scale, os.cpus().length)}\n`);
  if (storeList) process.stdout.write(`\n${renderStoreList(storeList)}\n`);
  if (dashboardResult) process.stdout.write(`\n${renderDashboard(dashboardResult)}\n`);

  mkdirSync(resultsDir, { recursive: true });
  const json = {
    machine,
    load,
    settings: {
      full: options.full,
      runs: options.runs,
      scale: options.scale,
      only: options.only,
      concurrency: CONCURRENCY,
      confirmWindow: CONFIRM_WINDOW,
      inFlight: IN_FLIGHT,
      batch: BATCH,
      latencyRate: LATENCY_RATE,
      latencySeconds: LATENCY_SECONDS * options.scale,
      latencyWarmupSeconds: LATENCY_WARMUP_SECONDS * options.scale,
    },
    rows: results.map((r) => ({
      id: r.row.id,
      label: r.row.label,
      system: r.row.system,
      tasks: r.tasks,
      pending: r.row.pending,
      runs: r.runs,
      summary: summaries(r),
    })),
    ratios: ratioResults,
    soak,
    scale,
    storeList,
    dashboard: dashboardResult,
  };
  writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`figures written to ${options.out}`);
}

main().then(
  // Exit explicitly: a library may keep a socket or timer alive after close().
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    killAllChildren();
    process.exit(1);
  },
);
