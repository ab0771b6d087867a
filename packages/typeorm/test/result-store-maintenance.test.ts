import { randomUUID } from 'node:crypto';
import { createQueue, type Logger, memory, TaskRegistry } from '@taskq/core';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { databaseUnitOfWork, type SqlResultStore, sqlResultStore } from '../src/index.js';
import { TestDatabase } from './support/db.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

// The SQL store prunes expired rows in the background. The prune used to be
// started by a write, in the async context of that write: inside a web
// request's transaction it ran through that request's query runner, and
// failed once the request had released it ("Query runner already released"),
// or deleted rows inside a transaction that then rolled back.

const PRUNE_MS = 150;
let db: TestDatabase;
let dataSource: DataSource;

beforeAll(async () => {
  db = await TestDatabase.create('postgres');
  dataSource = await db.dataSource();
});
afterAll(() => db.cleanup());

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const note = (message: string, fields?: Record<string, unknown>) => {
    const error = fields?.error;
    warnings.push(`${message}${error instanceof Error ? `: ${error.message}` : ''}`);
  };
  return { warnings, debug() {}, info() {}, warn: note, error: note };
}

/** Finished tasks that expired an hour ago, written straight to the table; returns their ids. */
async function seedExpired(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const long = Date.now() - 3_600_000;
  for (const id of ids) {
    await dataSource.query(
      `INSERT INTO ${db.table('taskq_status')} ("id", "name", "queue", "state", "attempts", "enqueued_at", "finished_at") VALUES ($1, 'old.task', 'default', 'succeeded', 1, $2, $2)`,
      [id, long],
    );
  }
  return ids;
}

async function remaining(ids: readonly string[]): Promise<number> {
  const rows: Array<{ n: string }> = await dataSource.query(
    `SELECT count(*) AS n FROM ${db.table('taskq_status')} WHERE "id" = ANY($1)`,
    [ids],
  );
  return Number(rows[0].n);
}

function setup(logger: Logger) {
  const store = sqlResultStore(dataSource, { retention: '1m', pruneInterval: PRUNE_MS, logger });
  async function sendWelcomeMail(_email: string) {}
  const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
  // Tasks stay in the outbox (no relay): only the store's writes matter here.
  const queue = createQueue({ registry, transport: memory(), store });
  /**
   * A web request: a transaction, a submit below it (which writes the status row through it), held open, then ended.
   */
  async function request(holdMs: number, end: 'commit' | 'rollback'): Promise<void> {
    const tx = await databaseUnitOfWork(dataSource, queue);
    await tx.run(() => queue.submit(sendWelcomeMail, 'ann@example.com'));
    await sleep(holdMs);
    await (end === 'commit' ? tx.commit() : tx.rollback());
  }
  return { store, queue, request };
}

describe('sqlResultStore maintenance', () => {
  it('a prune started by a write inside a request runs outside it: it deletes expired rows although the request rolls back', async () => {
    const logger = recordingLogger();
    const { store, queue, request } = setup(logger);
    const expired = await seedExpired(20);
    // Past the interval, so a write is the store's cue to prune.
    await sleep(PRUNE_MS + 50);
    // The request's write starts the store's maintenance; the request holds its transaction over several prune
    // intervals, then rolls back.
    await request(PRUNE_MS * 4, 'rollback');
    await waitFor(async () => (await remaining(expired)) === 0, 'the expired rows pruned', 5_000);
    console.log(
      `[maintenance] rolled-back request: expired rows left=${await remaining(expired)} of ${expired.length} warnings=${logger.warnings.length}`,
    );
    expect(logger.warnings).toEqual([]);
    await store.close();
    await queue.close();
  });

  it('prunes keep working while requests hold and release transactions, without "Query runner already released"', async () => {
    const logger = recordingLogger();
    const { store, queue, request } = setup(logger);
    await sleep(PRUNE_MS + 50);
    const rounds: number[] = [];
    for (let round = 0; round < 3; round++) {
      const expired = await seedExpired(10);
      // Requests that commit at once (their runner released right after the write) and some that hold it across a
      // prune.
      await Promise.all([
        request(0, 'commit'),
        request(0, 'commit'),
        request(PRUNE_MS * 2, 'commit'),
        request(PRUNE_MS, 'rollback'),
      ]);
      await waitFor(async () => (await remaining(expired)) === 0, `the expired rows of round ${round} pruned`, 5_000);
      rounds.push(await remaining(expired));
    }
    console.log(
      `[maintenance] busy requests: rows left per round=${rounds.join(',')} warnings=${logger.warnings.length}${logger.warnings.length ? ` first=${logger.warnings[0]}` : ''}`,
    );
    expect(rounds).toEqual([0, 0, 0]);
    expect(logger.warnings).toEqual([]);
    await store.close();
    await queue.close();
  });

  it('close() stops the timer (idempotent); the timer never keeps the process alive', async () => {
    const logger = recordingLogger();
    const store: SqlResultStore = sqlResultStore(dataSource, { retention: '1m', pruneInterval: PRUNE_MS, logger });
    const intervals = vi.spyOn(globalThis, 'setInterval');
    await store.enqueued([{ id: randomUUID(), name: 't', queue: 'q', enqueuedAt: new Date() }]);
    await store.enqueued([{ id: randomUUID(), name: 't', queue: 'q', enqueuedAt: new Date() }]);
    const started = intervals.mock.calls.flatMap((call, i) =>
      call[1] === PRUNE_MS ? [intervals.mock.results[i].value as NodeJS.Timeout] : [],
    );
    intervals.mockRestore();
    // One timer for the store, started by its first write, unref'd: the process can exit with the store still open.
    expect(started).toHaveLength(1);
    expect(started[0].hasRef()).toBe(false);
    const expired = await seedExpired(5);
    await waitFor(async () => (await remaining(expired)) === 0, 'a prune while open', 5_000);

    await store.close();
    await store.close();
    const kept = await seedExpired(5);
    await store.enqueued([{ id: randomUUID(), name: 't', queue: 'q', enqueuedAt: new Date() }]);
    await sleep(PRUNE_MS * 4);
    const left = await remaining(kept);
    console.log(`[maintenance] after close: expired rows left=${left} of ${kept.length} (no prune ran)`);
    expect(left).toBe(kept.length);
    // The store itself still works; only the background maintenance stopped.
    expect(await store.prune()).toBe(kept.length);
    expect(await remaining(kept)).toBe(0);
    expect(logger.warnings).toEqual([]);
  });

  it('pruneInterval must be positive', () => {
    expect(() => sqlResultStore(dataSource, { pruneInterval: 0 })).toThrow(
      /option "pruneInterval": expected a positive duration/,
    );
  });
});
