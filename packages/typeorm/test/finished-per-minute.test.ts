import { memoryResultStore, type ResultStore } from '@taskq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlResultStore } from '../src/index.js';
import { type DbKind, TestDatabase } from './support/db.js';

// store.finishedPerMinute(): what the dashboard's chart reads, the same on the memory store and the SQL store.
const kinds: Array<'memory' | DbKind> = ['memory', 'postgres', 'sqlite'];
const minute = Date.parse('2030-01-01T10:00:00Z');
const idOf = (n: number): string => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe.each(kinds)('finished tasks per minute on %s', (kind) => {
  let db: TestDatabase | undefined;
  let store: ResultStore;

  beforeAll(async () => {
    if (kind === 'memory') store = memoryResultStore();
    else {
      db = await TestDatabase.create(kind);
      store = sqlResultStore(await db.dataSource());
    }
    // Tasks 1-10: 1-4 succeed in minute 0 (queue a), 5 dies in minute 0 (queue a), 6 succeeds in minute 2 (queue b),
    // 7 is cancelled in minute 2 (queue b), 8 succeeds before the window, 9 is still running, 10 retries.
    await store.enqueued(
      Array.from({ length: 10 }, (_, i) => ({
        id: idOf(i + 1),
        name: 'demo.task',
        queue: i < 5 ? 'a' : 'b',
        enqueuedAt: new Date(minute - 300_000),
      })),
    );
    for (let n = 1; n <= 10; n++) await store.started(idOf(n), 1, new Date(minute - 200_000));
    for (let n = 1; n <= 4; n++) await store.succeeded(idOf(n), '[1]', new Date(minute + n * 1_000));
    await store.failed(idOf(5), { message: 'boom' }, true, new Date(minute + 59_999));
    await store.succeeded(idOf(6), '[1]', new Date(minute + 120_000));
    await store.cancel?.(idOf(7), new Date(minute + 150_000));
    await store.succeeded(idOf(8), '[1]', new Date(minute - 1));
    await store.failed(idOf(10), { message: 'again' }, false, new Date(minute + 10_000));
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('counts each outcome per queue and whole minute since the given time, leaving empty minutes out', async () => {
    const minutes = await store.finishedPerMinute?.(new Date(minute));
    expect(minutes).toEqual([
      { queue: 'a', minute: new Date(minute), succeeded: 4, dead: 1, cancelled: 0 },
      { queue: 'b', minute: new Date(minute + 120_000), succeeded: 1, dead: 0, cancelled: 1 },
    ]);
  });

  it('reads from the given time on', async () => {
    expect(await store.finishedPerMinute?.(new Date(minute + 60_000))).toEqual([
      { queue: 'b', minute: new Date(minute + 120_000), succeeded: 1, dead: 0, cancelled: 1 },
    ]);
  });
});
