/**
 * The dashboard on PostgreSQL: a status table of N rows (taskq's migrations, one `INSERT ... SELECT
 * generate_series`) whose tasks finished over the last 24 hours, so the overview's last hour holds N/24 of them;
 * the real RabbitMQ behind the queue. Each page is fetched over HTTP from the dashboard's handler, as a browser
 * would (authorized, no cache); each figure is the median and the maximum of repeated requests, after one warm-up.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { amqp, createQueue, silentLogger, TaskRegistry } from '@taskq/core';
import { dashboard } from '@taskq/dashboard';
import { sqlResultStore, taskqEntities } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import { AMQP_URL, PG_URL } from './config.js';
import { createBenchSchema, dropBenchSchema } from './outbox-db.js';

/** Rows in the status table at scale 1. */
export const DASHBOARD_ROWS = 1_000_000;
const REPEAT = 20;
const DAY = 86_400_000;

export interface DashboardFigure {
  readonly label: string;
  readonly bytes: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

export interface DashboardResult {
  readonly rows: number;
  readonly lastHourRows: number;
  readonly fillMs: number;
  readonly figures: DashboardFigure[];
}

export async function measureDashboard(rows: number, log: (line: string) => void): Promise<DashboardResult> {
  const schema = await createBenchSchema();
  const dataSource = new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema,
    entities: taskqEntities,
    poolSize: 4,
    logging: false,
  });
  await dataSource.initialize();
  const transport = amqp({ url: AMQP_URL, logger: silentLogger });
  try {
    const table = `"${schema}"."taskq_status"`;
    const now = Date.now();
    const filled = performance.now();
    // Row g finished at now - (N - g) * 24 h / N: evenly over the last day, the newest now. 20 names, 5 queues;
    // 1 in 100 dead, 1 in 10 still queued (not finished).
    await dataSource.query(
      `INSERT INTO ${table} ("id", "name", "queue", "state", "attempts", "deliveries", "dead_retries", "enqueued_at", "started_at", "finished_at", "result") ` +
        `SELECT '00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'), 'bench.task' || (g % 20), 'q' || (g % 5), ` +
        `CASE WHEN g % 100 = 7 THEN 'dead' WHEN g % 10 = 3 THEN 'queued' ELSE 'succeeded' END, 1, 1, 0, ` +
        `t - 50, t - 10, CASE WHEN g % 10 = 3 THEN NULL ELSE t END, '[null]' ` +
        `FROM (SELECT g, ($2::bigint - ($1::bigint - g) * ${DAY} / $1::bigint) AS t FROM generate_series(1, $1::int) AS g) AS s`,
      [rows, now],
    );
    await dataSource.query(`ANALYZE ${table}`);
    const fillMs = performance.now() - filled;
    const [{ n }] = (await dataSource.query(`SELECT COUNT(*) AS n FROM ${table} WHERE "finished_at" >= $1`, [
      now - 3_600_000,
    ])) as { n: string }[];
    log(`  dashboard: ${rows.toLocaleString('en-US')} rows filled in ${(fillMs / 1000).toFixed(1)} s`);
    const store = sqlResultStore(dataSource);
    const queue = createQueue({ registry: new TaskRegistry(), transport, store });
    const handler = dashboard({ queue, authorize: () => 'bench', logger: silentLogger });
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const id = `00000000-0000-7000-8000-${(rows - 1).toString(16).padStart(12, '0')}`;
    // [label, path, pause between requests]: the dashboard keeps the broker's answers for 1 s, so the overview is
    // measured both ways: requests 1.1 s apart (every answer asked again) and back to back (answers shared).
    const pages: [string, string, number?][] = [
      ['overview (5 queues, chart of the last hour), requests 1.1 s apart', '/', 1_100],
      ['overview, back to back (broker answers kept 1 s)', '/'],
      ['tasks, first page', '/tasks'],
      ['tasks, state = dead', '/tasks?state=dead'],
      ['tasks, queue = q3, name = bench.task8', '/tasks?queue=q3&name=bench.task8'],
      ['task detail', `/tasks/${id}`],
      ['dead letters', '/dead'],
      ['workers', '/workers'],
    ];
    const figures: DashboardFigure[] = [];
    try {
      for (const [label, path, gapMs = 0] of pages) {
        await fetch(`${origin}${path}`).then((r) => r.arrayBuffer()); // warm the plan, the pool, the heartbeat listener
        const times: number[] = [];
        let bytes = 0;
        for (let i = 0; i < REPEAT; i++) {
          if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
          const start = performance.now();
          const response = await fetch(`${origin}${path}`);
          bytes = (await response.arrayBuffer()).byteLength;
          if (response.status !== 200) throw new Error(`dashboard ${path} answered ${response.status}`);
          times.push(performance.now() - start);
        }
        times.sort((a, b) => a - b);
        figures.push({ label, bytes, p50Ms: times[Math.floor(times.length / 2)], maxMs: times[times.length - 1] });
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
      await queue.close();
      await store.close();
    }
    return { rows, lastHourRows: Number(n), fillMs, figures };
  } finally {
    await transport.close();
    await dataSource.destroy();
    await dropBenchSchema(schema, 60_000);
  }
}

/** The figures as a table for the report. */
export function renderDashboard(result: DashboardResult): string {
  const lines = [
    `dashboard: pages over HTTP on PostgreSQL, ${result.rows.toLocaleString('en-US')} status rows (${result.lastHourRows.toLocaleString('en-US')} finished in the last hour; filled in ${(result.fillMs / 1000).toFixed(1)} s), RabbitMQ`,
    '| page | bytes | p50 ms | max ms |',
    '|---|---|---|---|',
  ];
  for (const f of result.figures)
    lines.push(`| ${f.label} | ${f.bytes} | ${f.p50Ms.toFixed(2)} | ${f.maxMs.toFixed(2)} |`);
  return lines.join('\n');
}
