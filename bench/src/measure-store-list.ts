/**
 * The task index on PostgreSQL: a fresh schema (taskq's migrations, so the
 * list indexes are the ones applications get), a status table filled with
 * N rows in one `INSERT ... SELECT generate_series`, then `store.list()`
 * pages timed: the first page, filtered first pages, and pages far down a
 * cursor. Each figure is the median and the maximum of repeated calls.
 */
import { encodeCursor } from '@taskq/core/adapter';
import { sqlResultStore, taskqEntities } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import { PG_URL } from './config.js';
import { createBenchSchema, dropBenchSchema } from './outbox-db.js';

/** Rows in the status table at scale 1. */
export const STORE_LIST_ROWS = 1_000_000;
const REPEAT = 20;
const T0 = Date.UTC(2030, 0, 1);

export interface StoreListFigure {
  readonly label: string;
  readonly items: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

export interface StoreListResult {
  readonly rows: number;
  readonly fillMs: number;
  readonly figures: StoreListFigure[];
}

const idOf = (g: number): string => `00000000-0000-7000-8000-${g.toString(16).padStart(12, '0')}`;

export async function measureStoreList(rows: number, log: (line: string) => void): Promise<StoreListResult> {
  const schema = await createBenchSchema();
  const dataSource = new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema,
    entities: taskqEntities,
    poolSize: 2,
    logging: false,
  });
  await dataSource.initialize();
  try {
    const table = `"${schema}"."taskq_status"`;
    const filled = performance.now();
    // Row g was enqueued at T0 + 10 g ms; 20 task names, 5 queues; a state mix where `dead` is rare (1 in 100).
    await dataSource.query(
      `INSERT INTO ${table} ("id", "name", "queue", "state", "attempts", "deliveries", "dead_retries", "enqueued_at", "started_at", "finished_at", "result") ` +
        `SELECT '00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'), 'bench.task' || (g % 20), 'q' || (g % 5), ` +
        `CASE WHEN g % 100 = 7 THEN 'dead' WHEN g % 10 = 3 THEN 'queued' ELSE 'succeeded' END, 1, 1, 0, ` +
        `${T0} + g * 10, ${T0} + g * 10 + 5, ${T0} + g * 10 + 9, '[null]' FROM generate_series(1, $1::int) AS g`,
      [rows],
    );
    await dataSource.query(`ANALYZE ${table}`);
    const fillMs = performance.now() - filled;
    log(`  store-list: ${rows.toLocaleString('en-US')} rows filled in ${(fillMs / 1000).toFixed(1)} s`);
    const store = sqlResultStore(dataSource);
    const deep = Math.max(1, Math.floor(rows / 10));
    const cases: [string, () => Promise<{ items: readonly unknown[] }>][] = [
      ['first page', () => store.list({ limit: 50 })],
      ['first page, state = dead', () => store.list({ state: 'dead', limit: 50 })],
      ['first page, queue = q3', () => store.list({ queue: 'q3', limit: 50 })],
      ['first page, name = bench.task7', () => store.list({ name: 'bench.task7', limit: 50 })],
      [
        `cursor page ${(rows - deep).toLocaleString('en-US')} rows deep`,
        () => store.list({ limit: 50, cursor: encodeCursor({ enqueuedAt: T0 + deep * 10, id: idOf(deep) }) }),
      ],
      [
        `cursor page, state = dead, ${(rows - deep).toLocaleString('en-US')} rows deep`,
        () =>
          store.list({
            state: 'dead',
            limit: 50,
            cursor: encodeCursor({ enqueuedAt: T0 + deep * 10, id: idOf(deep) }),
          }),
      ],
      ['counts() (GROUP BY over the table)', async () => ({ items: Object.keys((await store.counts()).byQueue) })],
    ];
    const figures: StoreListFigure[] = [];
    for (const [label, call] of cases) {
      await call(); // warm the plan and the pages
      const times: number[] = [];
      let items = 0;
      for (let i = 0; i < (label.startsWith('counts') ? 3 : REPEAT); i++) {
        const start = performance.now();
        items = (await call()).items.length;
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      figures.push({ label, items, p50Ms: times[Math.floor(times.length / 2)], maxMs: times[times.length - 1] });
    }
    await store.close();
    return { rows, fillMs, figures };
  } finally {
    await dataSource.destroy();
    await dropBenchSchema(schema, 60_000);
  }
}

/** The figures as a table for the report. */
export function renderStoreList(result: StoreListResult): string {
  const lines = [
    `task index: store.list() on PostgreSQL, ${result.rows.toLocaleString('en-US')} status rows (filled in ${(result.fillMs / 1000).toFixed(1)} s)`,
    '| page | items | p50 ms | max ms |',
    '|---|---|---|---|',
  ];
  for (const f of result.figures)
    lines.push(`| ${f.label} | ${f.items} | ${f.p50Ms.toFixed(2)} | ${f.maxMs.toFixed(2)} |`);
  return lines.join('\n');
}
