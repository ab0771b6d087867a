import { hostname } from 'node:os';
import {
  createQueue,
  createWorker,
  MAX_ATTEMPT_HISTORY,
  MAX_HISTORY_STACK_CHARS,
  memory,
  memoryResultStore,
  type ResultStore,
  silentLogger,
  TaskRegistry,
} from '@taskq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlResultStore } from '../src/index.js';
import { type DbKind, TestDatabase } from './support/db.js';

// The history of a task's starts (TaskStatus.history), the same on the memory store and the SQL store on both databases.
const kinds: Array<'memory' | DbKind> = ['memory', 'postgres', 'sqlite'];
const t0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);
let n = 0;
const newId = (): string => `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`;
const here = { host: 'worker-host-1', pid: 4242 };
const workerA = '0193a5b0-0000-7000-8000-00000000000a';
const workerB = '0193a5b0-0000-7000-8000-00000000000b';

/** Fails its first two attempts, succeeds on the third. */
let calls = new Map<string, number>();
async function flaky(key: string): Promise<string> {
  const call = (calls.get(key) ?? 0) + 1;
  calls.set(key, call);
  if (call < 3) throw Object.assign(new Error(`flaky failure ${call}`), { code: 'E_FLAKY' });
  return `ok after ${call}`;
}

describe.each(kinds)('attempt history on %s', (kind) => {
  let db: TestDatabase | undefined;
  let store: ResultStore;

  beforeAll(async () => {
    if (kind === 'memory') store = memoryResultStore();
    else {
      db = await TestDatabase.create(kind);
      store = sqlResultStore(await db.dataSource());
    }
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('a task failing twice then succeeding has three starts: the first two failed with their errors, the last succeeded', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    await store.started(id, 1, at(10), 0, workerA, here);
    await store.failed(
      id,
      { message: 'first', code: 'E_ONE', name: 'Error', stack: 'Error: first\n    at one' },
      false,
      at(25),
    );
    await store.started(id, 2, at(100), 0, workerB, { host: 'worker-host-2', pid: 7 });
    await store.failed(id, { message: 'second', stack: 'Error: second\n    at two' }, false, at(160));
    await store.started(id, 3, at(300), 0, workerA, here);
    await store.succeeded(id, '[1]', at(340));
    const status = await store.get(id);
    console.log(`[${kind}] history:`, JSON.stringify(status?.history));
    expect(status?.history).toEqual([
      {
        attempt: 1,
        startedAt: at(10),
        finishedAt: at(25),
        durationMs: 15,
        outcome: 'failed',
        error: { message: 'first', code: 'E_ONE', name: 'Error', stack: 'Error: first\n    at one' },
        worker: { id: workerA, ...here },
      },
      {
        attempt: 2,
        startedAt: at(100),
        finishedAt: at(160),
        durationMs: 60,
        outcome: 'failed',
        error: { message: 'second', stack: 'Error: second\n    at two' },
        worker: { id: workerB, host: 'worker-host-2', pid: 7 },
      },
      {
        attempt: 3,
        startedAt: at(300),
        finishedAt: at(340),
        durationMs: 40,
        outcome: 'succeeded',
        worker: { id: workerA, ...here },
      },
    ]);
    // A late failure of a finished task changes nothing, in the history either.
    await store.failed(id, { message: 'late' }, true, at(400));
    expect((await store.get(id))?.history).toEqual(status?.history);
  });

  it('the last failure is dead; a start with no recorded end reads lost once another followed, running while current', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    await store.started(id, 1, at(1), 0, workerA, here);
    expect((await store.get(id))?.history?.map((a) => a.outcome)).toEqual(['running']);
    // Its worker died; the broker redelivered attempt 1 to another worker.
    await store.started(id, 1, at(50), 0, workerB, here);
    await store.failed(id, { message: 'no more' }, true, at(70));
    const history = (await store.get(id))?.history ?? [];
    expect(history.map((a) => [a.attempt, a.outcome, a.worker?.id])).toEqual([
      [1, 'lost', workerA],
      [1, 'dead', workerB],
    ]);
    expect(history[0].finishedAt).toBeUndefined();
    expect(history[0].durationMs).toBeUndefined();
    expect(history[1]).toMatchObject({ durationMs: 20, error: { message: 'no more' } });
  });

  it('a task cancelled while it runs: its start reads cancelled, ended when the task was cancelled', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    await store.started(id, 1, at(5), 0, workerA, here);
    await store.cancel?.(id, at(35));
    await store.succeeded(id, '[1]', at(40));
    expect((await store.get(id))?.history).toEqual([
      {
        attempt: 1,
        startedAt: at(5),
        finishedAt: at(35),
        durationMs: 30,
        outcome: 'cancelled',
        worker: { id: workerA, ...here },
      },
    ]);
  });

  it(`keeps the latest ${MAX_ATTEMPT_HISTORY} starts, and history stacks cut to ${MAX_HISTORY_STACK_CHARS} characters`, async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    const stack = `Error: deep\n${'    at frame (file.js:1:1)\n'.repeat(500)}`;
    for (let attempt = 1; attempt <= 25; attempt++) {
      await store.started(id, attempt, at(attempt * 100));
      await store.failed(id, { message: `failure ${attempt}`, stack }, attempt === 25, at(attempt * 100 + 10));
    }
    const status = await store.get(id);
    const history = status?.history ?? [];
    expect(history).toHaveLength(MAX_ATTEMPT_HISTORY);
    expect(history.map((a) => a.attempt)).toEqual(Array.from({ length: MAX_ATTEMPT_HISTORY }, (_, i) => i + 6));
    expect(history.at(-1)?.outcome).toBe('dead');
    expect(history[0].error?.stack).toHaveLength(MAX_HISTORY_STACK_CHARS + 1);
    expect(history[0].error?.stack?.endsWith('…')).toBe(true);
    // The latest error keeps what the store was given.
    expect(status?.error?.stack).toBe(stack);
  });

  it('written by the worker: a task failing twice then succeeding shows three starts, with errors and where it ran', async () => {
    calls = new Map();
    const registry = new TaskRegistry().add('history.flaky', flaky);
    const transport = memory();
    const worker = createWorker({ registry, transport, store, logger: silentLogger });
    const queue = createQueue({
      registry,
      transport,
      store,
      defaults: { attempts: 3, backoff: { type: 'fixed', delay: 10 } },
    });
    try {
      await worker.start();
      const handle = await queue.submit(flaky, `key-${kind}`);
      expect(await handle.result({ timeout: 10_000 })).toBe('ok after 3');
      // result() answered from the stored status, so the succeeded start is written.
      const history = (await queue.status(handle.id))?.history ?? [];
      console.log(
        `[${kind}] worker history:`,
        history.map((a) => `${a.attempt}:${a.outcome}:${a.durationMs}ms:${a.error?.message ?? '-'}`),
      );
      expect(history.map((a) => [a.attempt, a.outcome, a.error?.message, a.error?.code])).toEqual([
        [1, 'failed', 'flaky failure 1', 'E_FLAKY'],
        [2, 'failed', 'flaky failure 2', 'E_FLAKY'],
        [3, 'succeeded', undefined, undefined],
      ]);
      for (const attempt of history) {
        expect(attempt.worker).toMatchObject({ host: hostname(), pid: process.pid });
        expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
      }
      expect(history[0].error?.stack).toContain('flaky failure 1');
    } finally {
      await worker.stop();
      await queue.close();
    }
  });
});
