import { createQueue, memory, memoryResultStore, type ResultStore, TaskRegistry } from '@taskq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlResultStore, transactional } from '../src/index.js';
import { type DbKind, TestDatabase } from './support/db.js';

// The expectations core's memory store meets, run against the memory store and the SQL store on both databases.
const kinds: Array<'memory' | DbKind> = ['memory', 'postgres', 'sqlite'];
const t0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);
let n = 0;
const newId = (): string => `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`;

describe.each(kinds)('result store on %s', (kind) => {
  let db: TestDatabase | undefined;
  let store: ResultStore;
  let makeStore: (retention: string | number) => Promise<ResultStore>;

  beforeAll(async () => {
    if (kind === 'memory') makeStore = async (retention) => memoryResultStore({ retention });
    else {
      db = await TestDatabase.create(kind);
      const dataSource = await db.dataSource();
      makeStore = async (retention) => sqlResultStore(dataSource, { retention });
    }
    store = await makeStore('1d');
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('records queued → active → succeeded with result and timestamps', async () => {
    const id = newId();
    expect(await store.get(id)).toBeNull();
    await store.enqueued([{ id, name: 'mail.send', queue: 'default', enqueuedAt: at(0) }]);
    expect(await store.get(id)).toMatchObject({
      id,
      name: 'mail.send',
      queue: 'default',
      state: 'queued',
      attempts: 0,
      deliveries: 0,
      enqueuedAt: at(0),
    });
    expect(await store.started(id, 1, at(10))).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'active', attempts: 1, startedAt: at(10) });
    await store.succeeded(id, '[{"rows":42}]', at(20));
    const done = await store.get(id);
    expect(done).toMatchObject({
      state: 'succeeded',
      attempts: 1,
      result: '[{"rows":42}]',
      startedAt: at(10),
      finishedAt: at(20),
    });
    expect(done?.error).toBeUndefined();
  });

  it('moves only forward: a late enqueued never overwrites active, a succeeded task never starts again', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    await store.started(id, 1, at(1));
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(2) }]);
    expect((await store.get(id))?.state).toBe('active');
    await store.succeeded(id, '[1]', at(3));
    expect(await store.started(id, 2, at(4))).toBe(false);
    await store.failed(id, { message: 'late' }, true, at(5));
    expect(await store.get(id)).toMatchObject({ state: 'succeeded', result: '[1]', attempts: 1 });
  });

  it('records retries, then death with the error; a dead task starts again only for its dead letter sent back, never for a replayed copy', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    await store.started(id, 1, at(1));
    await store.failed(id, { message: 'boom', code: 'E_BOOM', name: 'Error' }, false, at(2));
    expect(await store.get(id)).toMatchObject({ state: 'retrying', error: { message: 'boom', code: 'E_BOOM' } });
    expect((await store.get(id))?.finishedAt).toBeUndefined();
    await store.started(id, 2, at(3));
    await store.failed(id, { message: 'boom again' }, true, at(4));
    // startedAt is the latest start (attempt 2), not the first.
    expect(await store.get(id)).toMatchObject({
      state: 'dead',
      attempts: 2,
      deliveries: 2,
      error: { message: 'boom again' },
      finishedAt: at(4),
      startedAt: at(3),
    });
    // A copy of attempt 1 or 2 replayed: refused, nothing changes.
    expect(await store.started(id, 1, at(5))).toBe(false);
    expect(await store.started(id, 2, at(5), 0)).toBe(false);
    expect(await store.get(id)).toMatchObject({ state: 'dead', deliveries: 2, startedAt: at(3) });
    // Its dead letter sent back (one dead retry): it starts again, once per dead retry.
    expect(await store.started(id, 1, at(6), 1)).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'active', attempts: 2, deliveries: 3, startedAt: at(6) });
    expect((await store.get(id))?.finishedAt).toBeUndefined();
    await store.failed(id, { message: 'dead twice' }, true, at(7));
    expect(await store.started(id, 1, at(8), 1)).toBe(false);
    expect(await store.started(id, 1, at(9), 2)).toBe(true);
  });

  it('a redelivery of a running attempt (its worker died) counts as a new start with its own startedAt', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    expect(await store.started(id, 1, at(1))).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'active', attempts: 1, deliveries: 1, startedAt: at(1) });
    expect(await store.started(id, 1, at(50))).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'active', attempts: 1, deliveries: 2, startedAt: at(50) });
    await store.succeeded(id, '[1]', at(60));
    expect(await store.get(id)).toMatchObject({
      state: 'succeeded',
      deliveries: 2,
      startedAt: at(50),
      finishedAt: at(60),
    });
  });

  it('cancel: an unfinished task becomes cancelled and never starts; a finished or unknown one is left alone', async () => {
    const queued = newId();
    const running = newId();
    const done = newId();
    await store.enqueued([queued, running, done].map((id) => ({ id, name: 't', queue: 'q', enqueuedAt: at(0) })));
    expect(await store.cancel?.(queued, at(5))).toBe(true);
    expect(await store.get(queued)).toMatchObject({ state: 'cancelled', finishedAt: at(5) });
    expect(await store.started(queued, 1, at(6))).toBe(false);
    expect(await store.cancel?.(queued, at(7))).toBe(false);

    expect(await store.started(running, 1, at(10))).toBe(true);
    expect(await store.cancel?.(running, at(11))).toBe(true);
    // The run's late end changes nothing: it reads cancelled, never both.
    await store.succeeded(running, '[1]', at(12));
    await store.failed(running, { message: 'aborted' }, false, at(12));
    expect(await store.get(running)).toMatchObject({ state: 'cancelled', finishedAt: at(11) });
    expect((await store.get(running))?.result).toBeUndefined();
    expect(await store.started(running, 2, at(13), 1)).toBe(false);

    expect(await store.started(done, 1, at(20))).toBe(true);
    await store.succeeded(done, '[1]', at(21));
    expect(await store.cancel?.(done, at(22))).toBe(false);
    expect(await store.get(done)).toMatchObject({ state: 'succeeded' });
    expect(await store.cancel?.(newId(), at(30))).toBe(false);
  });

  it('records the worker of the latest start; a redelivery to another worker replaces it', async () => {
    const id = newId();
    await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    const first = '0193a5b0-0000-7000-8000-00000000000a';
    const second = '0193a5b0-0000-7000-8000-00000000000b';
    expect(await store.started(id, 1, at(1), 0, first)).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'active', workerId: first, deliveries: 1 });
    expect(await store.started(id, 1, at(2), 0, second)).toBe(true);
    expect(await store.get(id)).toMatchObject({ workerId: second, deliveries: 2, startedAt: at(2) });
  });

  it('an unknown id: started answers true (run it), transitions are ignored', async () => {
    const id = newId();
    expect(await store.started(id, 1, at(0))).toBe(true);
    await store.succeeded(id, '[1]', at(1));
    expect(await store.get(id)).toBeNull();
  });

  it('dedup keys: held while the holder is unfinished, taken over once it finished, given back on release', async () => {
    const key = `key-${newId()}`;
    const [a, b, c] = [newId(), newId(), newId()];
    expect(await store.claimKey(key, a, 't')).toBe(a);
    // No status row yet: claimed moments ago, about to be enqueued, so still held.
    expect(await store.claimKey(key, b, 't')).toBe(a);
    await store.enqueued([{ id: a, name: 't', queue: 'q', enqueuedAt: at(0) }]);
    expect(await store.claimKey(key, b, 't')).toBe(a);
    expect(await store.claimKey(key, a, 't')).toBe(a);
    await store.started(a, 1, at(1));
    await store.succeeded(a, '[null]', at(2));
    expect(await store.claimKey(key, b, 't')).toBe(b);
    await store.releaseKey(key, a); // not the holder: no effect
    expect(await store.claimKey(key, c, 't')).toBe(b);
    await store.releaseKey(key, b);
    expect(await store.claimKey(key, c, 't')).toBe(c);
  });

  it('claimKey is atomic: 20 concurrent claims of one key agree on one holder', async () => {
    const key = `race-${newId()}`;
    const ids = Array.from({ length: 20 }, newId);
    const holders = await Promise.all(ids.map((id) => store.claimKey(key, id, 't')));
    const distinct = new Set(holders);
    console.log(`[${kind}] 20 concurrent claims → ${distinct.size} distinct holder(s)`);
    expect(distinct.size).toBe(1);
    expect(ids).toContain(holders[0]);
  });

  it('prune deletes finished tasks older than the retention and frees their keys', async () => {
    const short = await makeStore(1_000);
    const [old, fresh, running] = [newId(), newId(), newId()];
    const key = `prune-${newId()}`;
    const now = Date.now();
    await short.enqueued(
      [old, fresh, running].map((id) => ({ id, name: 't', queue: 'q', enqueuedAt: new Date(now - 10_000) })),
    );
    expect(await short.claimKey(key, old, 't')).toBe(old);
    for (const id of [old, fresh, running]) await short.started(id, 1, new Date(now - 9_000));
    await short.succeeded(old, '[1]', new Date(now - 5_000));
    await short.succeeded(fresh, '[2]', new Date(now));
    const removed = await short.prune(new Date(now + 500));
    expect(removed).toBeGreaterThanOrEqual(1);
    expect(await short.get(old)).toBeNull();
    expect(await short.get(fresh)).toMatchObject({ state: 'succeeded' });
    expect(await short.get(running)).toMatchObject({ state: 'active' });
    const next = newId();
    expect(await short.claimKey(key, next, 't')).toBe(next);
  });
});

describe('SQL result store specifics', () => {
  it('a finished status reads as unknown once its retention passed, even before a prune', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const store = sqlResultStore(await db.dataSource(), { retention: 200, pruneInterval: '1h' });
      const id = newId();
      await store.enqueued([{ id, name: 't', queue: 'q', enqueuedAt: new Date() }]);
      await store.started(id, 1, new Date());
      await store.succeeded(id, '[1]', new Date());
      expect((await store.get(id))?.state).toBe('succeeded');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await store.get(id)).toBeNull();
    } finally {
      await db.cleanup();
    }
  });

  it('validates its options once, naming the option', async () => {
    const db = await TestDatabase.create('sqlite');
    try {
      const dataSource = await db.dataSource();
      expect(() => sqlResultStore(dataSource, { retention: 'soon' })).toThrow(/option "retention"/);
      expect(() => sqlResultStore(dataSource, { retention: 0 })).toThrow(/option "retention"/);
      expect(() => sqlResultStore({} as never)).toThrow(/option "dataSource"/);
    } finally {
      await db.cleanup();
    }
  });
});

describe.each<DbKind>(['postgres', 'sqlite'])('dedup keys claimed inside a transaction (%s)', (kind) => {
  it('roll back with it, and hold across transactions once committed', async () => {
    const db = await TestDatabase.create(kind);
    try {
      const dataSource = await db.dataSource();
      async function rebuildIndex(_name: string) {}
      const registry = new TaskRegistry().add('search.rebuildIndex', rebuildIndex);
      const queue = createQueue({ registry, transport: memory(), store: sqlResultStore(dataSource) });
      const keyed = queue.with({ key: 'index:products' });
      let rolledBack = '';
      await expect(
        transactional(dataSource, queue, async () => {
          rolledBack = (await keyed.submit(rebuildIndex, 'products')).id;
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      // The key went with the transaction: the next submit gets it, not the rolled-back id.
      const first = await transactional(dataSource, queue, () => keyed.submit(rebuildIndex, 'products'));
      expect(first.id).not.toBe(rolledBack);
      const second = await transactional(dataSource, queue, () => keyed.submit(rebuildIndex, 'products'));
      console.log(
        `[${kind}] keys in transactions: rolled back=${rolledBack.slice(-6)} first=${first.id.slice(-6)} second=${second.id.slice(-6)}`,
      );
      expect(second.id).toBe(first.id);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });
});
