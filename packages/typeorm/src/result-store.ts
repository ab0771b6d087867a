import {
  type FinishedMinute,
  InvalidOptionError,
  type Logger,
  type ProgressValue,
  type ResultStore,
  type TaskCounts,
  type TaskListQuery,
  type TaskPage,
  type TaskState,
  type Unsubscribe,
  type WorkerPlace,
} from '@taskq/core';
import {
  addCount,
  argsKeeper,
  checkListQuery,
  emptyCounts,
  type EnqueuedRecord,
  encodeCursor,
  historyEnd,
  historyStart,
  type KeepArgsOptions,
  parseDuration,
  readHistory,
  type StoredError,
  type StoredStatus,
  useLogger,
} from '@taskq/core/adapter';
import type { DataSource, EntityManager } from 'typeorm';
import { KeyEntity, StatusEntity } from './entities.js';
import { type Dialect, dialectOf, execute, placeholders, tableOf, toMs } from './internal/dialect.js';
import { detached } from './internal/detached.js';
import { appendHistorySql, endHistorySql } from './internal/history-sql.js';
import { withManager } from './internal/scope.js';
import { StatusFeed } from './internal/status-feed.js';

/** Options of {@link sqlResultStore}. */
export interface SqlResultStoreOptions extends KeepArgsOptions {
  /**
   * How long a finished task's status and result are kept. After it the id
   * reads as unknown, and the next background prune deletes the row.
   * @defaultValue `'1d'`
   */
  readonly retention?: number | string;
  /**
   * Time between two background prunes. The timer starts with the store's
   * first write, runs outside any request or task (on a pooled connection of
   * its own), does not keep the process alive, and stops with `close()`.
   * @defaultValue `'1m'`
   */
  readonly pruneInterval?: number | string;
  /** Where a failed background prune is reported. @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

const FINISHED = `('succeeded', 'dead', 'cancelled')`;
const COLUMNS =
  '"id", "name", "queue", "state", "attempts", "deliveries", "result", "error", "enqueued_at", "started_at", "finished_at", "progress", "args", "worker_id"';

/**
 * A {@link ResultStore} in SQL tables (`taskq_status`, `taskq_keys`) through
 * TypeORM, on PostgreSQL or SQLite; shared by every web and worker process
 * on the database. Transitions only move forward, as in the memory store,
 * each in one conditional UPDATE. Deduplication keys are claimed with one
 * atomic upsert. Inside a taskq transaction whose unit of work stages into
 * it, the `queued` row and the key are written in that transaction, so they
 * commit or vanish with the tasks.
 *
 * Expired rows are pruned in the background every `pruneInterval`; call
 * `close()` on shutdown to stop that timer (the DataSource stays open: it is yours).
 */
export class SqlResultStore implements ResultStore {
  readonly dataSource: DataSource;
  readonly #dialect: Dialect;
  readonly #retentionMs: number;
  readonly #pruneEveryMs: number;
  readonly #logger: Logger;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<void> | undefined;
  #closed = false;
  readonly #feed: StatusFeed;
  readonly #keepArgs: ((name: string, args?: () => readonly unknown[]) => string | undefined) | undefined;

  constructor(dataSource: DataSource, options: SqlResultStoreOptions = {}) {
    this.#dialect = dialectOf(dataSource, 'dataSource');
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object');
    this.dataSource = dataSource;
    this.#retentionMs = parseDuration(options.retention ?? '1d', 'retention');
    if (this.#retentionMs <= 0) throw new InvalidOptionError('retention', 'expected a positive duration');
    this.#pruneEveryMs = parseDuration(options.pruneInterval ?? '1m', 'pruneInterval');
    if (this.#pruneEveryMs <= 0) throw new InvalidOptionError('pruneInterval', 'expected a positive duration');
    this.#logger = useLogger(options.logger);
    this.#keepArgs = argsKeeper(options);
    this.#feed = new StatusFeed(dataSource, this.#dialect, this.#logger, (id) => this.#fingerprint(id));
  }

  /**
   * Runs a write to the status table. On PostgreSQL the same statement sends a NOTIFY with the id of each row it
   * changed, so the notification commits (or vanishes) with the write; elsewhere the store's in-process feed is told.
   */
  async #write(manager: EntityManager, sql: string, params: readonly unknown[]): Promise<number> {
    if (this.#dialect === 'postgres') {
      const { rows } = await execute(
        this.#dialect,
        manager,
        `WITH w AS (${sql} RETURNING "id") SELECT pg_notify('${StatusFeed.CHANNEL}', w."id") FROM w`,
        params,
      );
      return rows.length;
    }
    const { affected, rows } = await execute(this.#dialect, manager, `${sql} RETURNING "id"`, params);
    for (const row of rows) this.#feed.local(String(row.id));
    return affected || rows.length;
  }

  enqueued(records: readonly EnqueuedRecord[]): Promise<void> {
    return withManager(this.dataSource, 'unit-of-work', (manager) => this.recordEnqueued(manager, records));
  }

  /** @internal Inserts `queued` rows through `manager` (the outbox's transaction). */
  async recordEnqueued(manager: EntityManager, records: readonly EnqueuedRecord[]): Promise<void> {
    const table = tableOf(this.dataSource, StatusEntity);
    for (let start = 0; start < records.length; start += 100) {
      const chunk = records.slice(start, start + 100);
      const params: unknown[] = [];
      for (const r of chunk)
        params.push(
          r.id,
          r.name,
          r.queue,
          'queued',
          0,
          r.enqueuedAt.getTime(),
          this.#keepArgs?.(r.name, r.args) ?? null,
        );
      const values = chunk.map(() => `(${placeholders(7)})`).join(', ');
      await this.#write(
        manager,
        `INSERT INTO ${table} ("id", "name", "queue", "state", "attempts", "enqueued_at", "args") VALUES ${values} ON CONFLICT ("id") DO NOTHING`,
        params,
      );
    }
    this.#maybePrune();
  }

  /** @internal Deletes the status rows of tasks that were unstaged before their transaction committed. */
  async forget(manager: EntityManager, ids: readonly string[]): Promise<void> {
    const table = tableOf(this.dataSource, StatusEntity);
    await execute(this.#dialect, manager, `DELETE FROM ${table} WHERE "id" IN (${placeholders(ids.length)})`, ids);
  }

  async started(
    id: string,
    attempt: number,
    at: Date,
    deadRetries = 0,
    workerId?: string,
    where?: WorkerPlace,
  ): Promise<boolean> {
    const table = tableOf(this.dataSource, StatusEntity);
    const entry = JSON.stringify(historyStart(attempt, at, workerId, where));
    return this.#run(async (manager) => {
      // A succeeded task never runs again; a dead one only when its dead letter was sent back (one more dead retry).
      const affected = await this.#write(
        manager,
        `UPDATE ${table} SET "state" = 'active', "finished_at" = NULL, "attempts" = CASE WHEN "attempts" > ? THEN "attempts" ELSE ? END, ` +
          `"deliveries" = "deliveries" + 1, "dead_retries" = CASE WHEN "dead_retries" > ? THEN "dead_retries" ELSE ? END, "started_at" = ?, "worker_id" = ?, ` +
          `"history" = ${appendHistorySql(this.#dialect)} ` +
          `WHERE "id" = ? AND "state" NOT IN ('succeeded', 'cancelled') AND ("state" NOT IN ${FINISHED} OR "dead_retries" < ?)`,
        [attempt, attempt, deadRetries, deadRetries, at.getTime(), workerId ?? null, entry, id, deadRetries],
      );
      if (affected > 0) return true;
      // No row: a task submitted without this store (or pruned): run it.
      const { rows } = await execute(this.#dialect, manager, `SELECT 1 FROM ${table} WHERE "id" = ?`, [id]);
      return rows.length === 0;
    });
  }

  async cancel(id: string, at: Date): Promise<boolean> {
    const table = tableOf(this.dataSource, StatusEntity);
    return this.#run(async (manager) => {
      // Through #write, so a watcher of the task hears of the cancel as of any other status change.
      const affected = await this.#write(
        manager,
        `UPDATE ${table} SET "state" = 'cancelled', "finished_at" = ? WHERE "id" = ? AND "state" NOT IN ${FINISHED}`,
        [at.getTime(), id],
      );
      return affected > 0;
    });
  }

  async succeeded(id: string, result: string, at: Date): Promise<void> {
    const table = tableOf(this.dataSource, StatusEntity);
    await this.#run((manager) =>
      this.#write(
        manager,
        `UPDATE ${table} SET "state" = 'succeeded', "result" = ?, "error" = NULL, "finished_at" = ?, "history" = ${endHistorySql(this.#dialect)} ` +
          `WHERE "id" = ? AND "state" NOT IN ${FINISHED}`,
        [result, at.getTime(), JSON.stringify(historyEnd('succeeded', at)), id],
      ),
    );
    this.#maybePrune();
  }

  async failed(id: string, error: StoredError, final: boolean, at: Date): Promise<void> {
    const table = tableOf(this.dataSource, StatusEntity);
    const text = JSON.stringify({ message: error.message, code: error.code, name: error.name, stack: error.stack });
    const end = JSON.stringify(historyEnd(final ? 'dead' : 'failed', at, error));
    const history = `"history" = ${endHistorySql(this.#dialect)}`;
    await this.#run((manager) =>
      final
        ? this.#write(
            manager,
            `UPDATE ${table} SET "state" = 'dead', "error" = ?, "finished_at" = ?, ${history} WHERE "id" = ? AND "state" NOT IN ${FINISHED}`,
            [text, at.getTime(), end, id],
          )
        : this.#write(
            manager,
            `UPDATE ${table} SET "state" = 'retrying', "error" = ?, ${history} WHERE "id" = ? AND "state" NOT IN ${FINISHED}`,
            [text, end, id],
          ),
    );
    if (final) this.#maybePrune();
  }

  async get(id: string): Promise<StoredStatus | null> {
    const table = tableOf(this.dataSource, StatusEntity);
    // Inside a transaction, read through it: a task submitted in it reads as queued there.
    const { rows } = await withManager(this.dataSource, 'always', (manager) =>
      execute(this.#dialect, manager, `SELECT ${COLUMNS}, "history" FROM ${table} WHERE "id" = ?`, [id]),
    );
    if (rows.length === 0) return null;
    const status = toStatus(rows[0]);
    if (status.finishedAt && status.finishedAt.getTime() < Date.now() - this.#retentionMs) return null;
    return status;
  }

  async progress(id: string, value: ProgressValue, _at: Date): Promise<void> {
    const table = tableOf(this.dataSource, StatusEntity);
    await this.#run((manager) =>
      this.#write(manager, `UPDATE ${table} SET "progress" = ? WHERE "id" = ? AND "state" NOT IN ${FINISHED}`, [
        JSON.stringify(value),
        id,
      ]),
    );
  }

  /**
   * The task index, newest first. Each page is one indexed range scan: `(enqueued_at, id)` below the cursor, on the
   * index of the filter given (state, name or queue), so a deep page costs what the first one does.
   */
  async list(query: TaskListQuery): Promise<TaskPage> {
    const after = checkListQuery(query);
    const table = tableOf(this.dataSource, StatusEntity);
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [column, value] of [
      ['state', query.state],
      ['name', query.name],
      ['queue', query.queue],
    ] as const) {
      if (value === undefined) continue;
      where.push(`"${column}" = ?`);
      params.push(value);
    }
    if (query.since !== undefined) {
      where.push(`"enqueued_at" >= ?`);
      params.push(query.since.getTime());
    }
    if (after !== undefined) {
      where.push(`("enqueued_at", "id") < (?, ?)`);
      params.push(after.enqueuedAt, after.id);
    }
    const { rows } = await withManager(this.dataSource, 'always', (manager) =>
      execute(
        this.#dialect,
        manager,
        `SELECT ${COLUMNS} FROM ${table}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ` +
          `ORDER BY "enqueued_at" DESC, "id" DESC LIMIT ${query.limit + 1}`,
        params,
      ),
    );
    const items = rows.slice(0, query.limit).map(toStatus);
    const last = items.at(-1);
    return rows.length > query.limit && last
      ? { items, next: encodeCursor({ enqueuedAt: last.enqueuedAt.getTime(), id: last.id }) }
      : { items };
  }

  /** Counts per state and queue, in one GROUP BY (a scan of the table: call it for a dashboard, not per request). */
  async counts(): Promise<TaskCounts> {
    const table = tableOf(this.dataSource, StatusEntity);
    const { rows } = await withManager(this.dataSource, 'never', (manager) =>
      execute(
        this.#dialect,
        manager,
        `SELECT "queue", "state", COUNT(*) AS "n" FROM ${table} GROUP BY "queue", "state"`,
      ),
    );
    const counts: TaskCounts = { byState: emptyCounts(), byQueue: {} };
    for (const row of rows) addCount(counts, String(row.queue), String(row.state) as TaskState, Number(row.n));
    return counts;
  }

  /**
   * Finished tasks per queue, minute and outcome since `since`: one range scan of the `finished_at` index, so it costs
   * what the recent rows cost, not the table.
   */
  async finishedPerMinute(since: Date): Promise<FinishedMinute[]> {
    const table = tableOf(this.dataSource, StatusEntity);
    const { rows } = await withManager(this.dataSource, 'never', (manager) =>
      execute(
        this.#dialect,
        manager,
        `SELECT "queue", "state", ("finished_at" / 60000) AS "m", COUNT(*) AS "n" FROM ${table} ` +
          `WHERE "finished_at" >= ? AND "state" IN ${FINISHED} GROUP BY "queue", "state", ("finished_at" / 60000)`,
        [since.getTime()],
      ),
    );
    const buckets = new Map<string, { -readonly [K in keyof FinishedMinute]: FinishedMinute[K] }>();
    for (const row of rows) {
      const minute = Number(row.m) * 60_000;
      const queue = String(row.queue);
      const key = `${minute} ${queue}`;
      let bucket = buckets.get(key);
      if (!bucket)
        buckets.set(key, (bucket = { queue, minute: new Date(minute), succeeded: 0, dead: 0, cancelled: 0 }));
      bucket[String(row.state) as 'succeeded' | 'dead' | 'cancelled'] += Number(row.n);
    }
    return [...buckets.values()].sort(
      (a, b) => a.minute.getTime() - b.minute.getTime() || (a.queue < b.queue ? -1 : 1),
    );
  }

  /**
   * Tells `listener` when task `id`'s row may have changed. On PostgreSQL through LISTEN on one connection taken from
   * the DataSource's pool while anyone subscribes (every process sees every write, within the notification's trip);
   * on SQLite, which has no notifications, from this store's own writes at once and, for other processes' writes,
   * from a check of the row every 100 ms growing to 1 s while it does not change.
   */
  subscribe(id: string, listener: () => void): Promise<Unsubscribe> {
    return this.#feed.subscribe(id, listener);
  }

  async #fingerprint(id: string): Promise<string> {
    const table = tableOf(this.dataSource, StatusEntity);
    const { rows } = await withManager(this.dataSource, 'never', (manager) =>
      execute(
        this.#dialect,
        manager,
        `SELECT "state", "attempts", "deliveries", "progress", "finished_at" FROM ${table} WHERE "id" = ?`,
        [id],
      ),
    );
    return JSON.stringify(rows[0] ?? null);
  }

  async claimKey(key: string, id: string): Promise<string> {
    const keys = tableOf(this.dataSource, KeyEntity);
    const status = tableOf(this.dataSource, StatusEntity);
    return withManager(this.dataSource, 'unit-of-work', async (manager) => {
      // One statement: insert the key, or take it over from a holder that finished; a holder
      // with no status row yet was claimed moments ago and is about to be enqueued, so it keeps it.
      // On PostgreSQL a claim racing an uncommitted one waits for it on the key's unique index.
      const { rows } = await execute(
        this.#dialect,
        manager,
        `INSERT INTO ${keys} AS k ("key", "task_id", "claimed_at") VALUES (?, ?, ?) ` +
          `ON CONFLICT ("key") DO UPDATE SET "task_id" = excluded."task_id", "claimed_at" = excluded."claimed_at" ` +
          `WHERE k."task_id" = excluded."task_id" OR EXISTS (SELECT 1 FROM ${status} s WHERE s."id" = k."task_id" AND s."state" IN ${FINISHED}) ` +
          `RETURNING "task_id"`,
        [key, id, Date.now()],
      );
      if (rows.length > 0) return String(rows[0].task_id);
      const holder = await execute(this.#dialect, manager, `SELECT "task_id" FROM ${keys} WHERE "key" = ?`, [key]);
      // Released between the two statements: nobody holds it, so try again.
      return holder.rows.length > 0 ? String(holder.rows[0].task_id) : this.claimKey(key, id);
    });
  }

  async releaseKey(key: string, id: string): Promise<void> {
    const keys = tableOf(this.dataSource, KeyEntity);
    await withManager(this.dataSource, 'unit-of-work', (manager) =>
      execute(this.#dialect, manager, `DELETE FROM ${keys} WHERE "key" = ? AND "task_id" = ?`, [key, id]),
    );
  }

  /**
   * Deletes finished tasks older than the retention, and keys nobody holds;
   * returns how many status rows went. Runs on a connection of its own, never
   * in the caller's transaction (on SQLite, where there is one connection,
   * inside an open taskq transaction it has to join it).
   */
  async prune(now: Date = new Date()): Promise<number> {
    const status = tableOf(this.dataSource, StatusEntity);
    const keys = tableOf(this.dataSource, KeyEntity);
    const cutoff = now.getTime() - this.#retentionMs;
    return withManager(this.dataSource, 'never', async (manager) => {
      const expired = `SELECT "id" FROM ${status} WHERE "state" IN ${FINISHED} AND "finished_at" < ?`;
      // Keys first: a key whose holder row is gone would otherwise look "claimed moments ago" forever.
      await execute(this.#dialect, manager, `DELETE FROM ${keys} WHERE "task_id" IN (${expired})`, [cutoff]);
      const { affected } = await execute(
        this.#dialect,
        manager,
        `DELETE FROM ${status} WHERE "state" IN ${FINISHED} AND "finished_at" < ?`,
        [cutoff],
      );
      // Keys of claims that never got a status row (their submit failed and the process died before releasing).
      await execute(
        this.#dialect,
        manager,
        `DELETE FROM ${keys} WHERE "claimed_at" < ? AND NOT EXISTS (SELECT 1 FROM ${status} s WHERE s."id" = ${keys}."task_id")`,
        [cutoff],
      );
      return affected;
    });
  }

  #run<T>(fn: (manager: EntityManager) => Promise<T>): Promise<T> {
    return withManager(this.dataSource, 'unit-of-work', fn);
  }

  /**
   * Stops the background prune and waits for one in progress. Idempotent.
   * The store still answers afterwards; only its maintenance stops. The
   * DataSource is not closed.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#feed.close();
    if (this.#pruneTimer !== undefined) clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    await this.#pruning;
  }

  /** Starts the prune timer on the first write (a store nobody writes to never prunes). */
  #maybePrune(): void {
    if (this.#pruneTimer !== undefined || this.#closed) return;
    // Created in a detached context: this write may be inside a request's transaction, and an
    // interval started here would otherwise run every prune in that (long released) context.
    this.#pruneTimer = detached(() => setInterval(() => this.#backgroundPrune(), this.#pruneEveryMs));
    this.#pruneTimer.unref();
  }

  #backgroundPrune(): void {
    // Not initialized yet, or destroyed before close(): nothing to prune, nothing to report.
    if (this.#pruning !== undefined || this.#closed || !this.dataSource.isInitialized) return;
    this.#pruning = this.prune()
      .then(
        () => undefined,
        (error: unknown) => this.#logger.warn('pruning the taskq status table failed', { error }),
      )
      .finally(() => {
        this.#pruning = undefined;
      });
  }
}

function toStatus(row: Record<string, unknown>): StoredStatus {
  const status: { -readonly [K in keyof StoredStatus]: StoredStatus[K] } = {
    id: String(row.id),
    name: String(row.name),
    queue: String(row.queue),
    state: String(row.state) as TaskState,
    attempts: Number(row.attempts),
    deliveries: Number(row.deliveries),
    enqueuedAt: new Date(toMs(row.enqueued_at) ?? 0),
  };
  if (row.result !== null && row.result !== undefined) status.result = String(row.result);
  if (row.error !== null && row.error !== undefined) status.error = parseError(String(row.error));
  const startedAt = toMs(row.started_at);
  if (startedAt !== undefined) status.startedAt = new Date(startedAt);
  const finishedAt = toMs(row.finished_at);
  if (finishedAt !== undefined) status.finishedAt = new Date(finishedAt);
  if (row.progress !== null && row.progress !== undefined) status.progress = JSON.parse(String(row.progress));
  if (row.args !== null && row.args !== undefined) status.args = JSON.parse(String(row.args));
  if (typeof row.worker_id === 'string') status.workerId = row.worker_id;
  if (typeof row.history === 'string') status.history = readHistory(row.history, status.state, status.finishedAt);
  return status;
}

function parseError(text: string): StoredError {
  try {
    const parsed = JSON.parse(text) as StoredError;
    if (parsed && typeof parsed.message === 'string') return parsed;
  } catch {
    // Written by something else: show it as it is.
  }
  return { message: text };
}

/**
 * A result store in SQL tables on `dataSource` (PostgreSQL or SQLite), for
 * `createQueue({ store })` and `createWorker({ store })`. Its tables come
 * with `taskqEntities`.
 */
export function sqlResultStore(dataSource: DataSource, options?: SqlResultStoreOptions): SqlResultStore {
  return new SqlResultStore(dataSource, options);
}
