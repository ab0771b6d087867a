import { createQueue, memory, memoryResultStore, type ResultStore, TaskRegistry } from '@taskq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sleep, waitFor } from '../../../test-support/wait.js';
import { sqlResultStore, transactional } from '../src/index.js';
import { type DbKind, PG_URL, TestDatabase } from './support/db.js';

// The task index (store.list(), store.counts()) on the memory store and the SQL store on both databases.
const kinds: Array<'memory' | DbKind> = ['memory', 'postgres', 'sqlite'];
const t0 = Date.parse('2030-01-01T00:00:00Z');
const idOf = (n: number): string => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

describe.each(kinds)('task index on %s', (kind) => {
  let db: TestDatabase | undefined;
  let store: ResultStore;

  beforeAll(async () => {
    if (kind === 'memory') store = memoryResultStore();
    else {
      db = await TestDatabase.create(kind);
      store = sqlResultStore(await db.dataSource());
    }
    // 25 tasks, one per second; every third in queue "mail" named mail.send, the rest in "default" named report.build;
    // two enqueued in the same millisecond (the id breaks the tie). States: 1-5 succeeded, 6-7 dead, 8 active.
    const records = [];
    for (let n = 1; n <= 25; n++)
      records.push({
        id: idOf(n),
        name: n % 3 === 0 ? 'mail.send' : 'report.build',
        queue: n % 3 === 0 ? 'mail' : 'default',
        enqueuedAt: new Date(t0 + (n === 25 ? 24 : n) * 1000),
      });
    await store.enqueued(records);
    for (let n = 1; n <= 8; n++) await store.started(idOf(n), 1, new Date(t0 + 30_000));
    for (let n = 1; n <= 5; n++) await store.succeeded(idOf(n), '[1]', new Date(t0 + 31_000));
    for (let n = 6; n <= 7; n++) await store.failed(idOf(n), { message: 'boom' }, true, new Date(t0 + 31_000));
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('pages newest first with an opaque cursor, each task exactly once, ties broken by id', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.list?.({ limit: 10, cursor });
      if (!page) throw new Error('list() missing');
      expect(page.items.length).toBeLessThanOrEqual(10);
      seen.push(...page.items.map((s) => s.id));
      cursor = page.next;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(3);
    const expected = [25, 24, ...Array.from({ length: 23 }, (_, i) => 23 - i)].map(idOf);
    expect(seen).toEqual(expected);
  });

  it('filters by state, name, queue and since, combined, and pages the filtered list', async () => {
    const list = store.list?.bind(store);
    if (!list) throw new Error('list() missing');
    expect((await list({ state: 'succeeded', limit: 50 })).items.map((s) => s.id)).toEqual([5, 4, 3, 2, 1].map(idOf));
    const mail = await list({ queue: 'mail', limit: 3 });
    expect(mail.items.map((s) => s.id)).toEqual([24, 21, 18].map(idOf));
    const more = await list({ queue: 'mail', limit: 3, cursor: mail.next });
    expect(more.items.map((s) => s.id)).toEqual([15, 12, 9].map(idOf));
    expect((await list({ name: 'mail.send', state: 'queued', limit: 50 })).items.map((s) => s.id)).toEqual(
      [24, 21, 18, 15, 12, 9].map(idOf),
    );
    expect((await list({ since: new Date(t0 + 22_000), limit: 50 })).items.map((s) => s.id)).toEqual(
      [25, 24, 23, 22].map(idOf),
    );
    const dead = (await list({ state: 'dead', limit: 50 })).items;
    expect(dead.map((s) => [s.id, s.state, s.error?.message])).toEqual([
      [idOf(7), 'dead', 'boom'],
      [idOf(6), 'dead', 'boom'],
    ]);
  });

  it('counts tasks per state, overall and per queue', async () => {
    const counts = await store.counts?.();
    expect(counts?.byState).toEqual({ queued: 17, active: 1, retrying: 0, succeeded: 5, dead: 2, cancelled: 0 });
    // Queue "mail" holds 3, 6, 9, ..., 24: 3 succeeded, 6 dead, the rest queued.
    expect(counts?.byQueue.mail).toEqual({ queued: 6, active: 0, retrying: 0, succeeded: 1, dead: 1, cancelled: 0 });
    expect(counts?.byQueue.default).toEqual({
      queued: 11,
      active: 1,
      retrying: 0,
      succeeded: 4,
      dead: 1,
      cancelled: 0,
    });
  });

  it('refuses a bad limit or a forged cursor, naming the option', async () => {
    await expect(store.list?.({ limit: 0 })).rejects.toThrow(/limit/);
    await expect(store.list?.({ limit: 5000 })).rejects.toThrow(/limit/);
    await expect(store.list?.({ limit: 5, cursor: 'not-a-cursor' })).rejects.toThrow(/cursor/);
  });
});

async function signUp(email: string, password: string): Promise<string> {
  return `${email}:${password.length}`;
}
const argsRegistry = new TaskRegistry().add('users.signUp', signUp);

describe.each(kinds)('arguments in the task index on %s', (kind) => {
  let db: TestDatabase | undefined;
  const stores: { plain?: ResultStore; keeping?: ResultStore } = {};

  beforeAll(async () => {
    const redact = (name: string, args: readonly unknown[]): unknown =>
      name === 'users.signUp' ? [args[0], '***'] : args;
    if (kind === 'memory') {
      stores.plain = memoryResultStore();
      stores.keeping = memoryResultStore({ keepArgs: true, redact });
    } else {
      db = await TestDatabase.create(kind);
      const dataSource = await db.dataSource();
      stores.plain = sqlResultStore(dataSource);
      stores.keeping = sqlResultStore(dataSource, { keepArgs: true, redact });
    }
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('are not stored by default; with keepArgs they are, through redact, and list() shows them', async () => {
    const transport = memory();
    const plain = createQueue({ registry: argsRegistry, transport, store: stores.plain });
    const keeping = createQueue({ registry: argsRegistry, transport, store: stores.keeping });
    const a = await plain.submit(signUp, 'ada@example.com', 'hunter2');
    const b = await keeping.submit(signUp, 'bob@example.com', 'correct horse');
    expect((await plain.status(a.id))?.args).toBeUndefined();
    expect(JSON.stringify(await stores.plain?.get(a.id))).not.toContain('hunter2');
    expect((await keeping.status(b.id))?.args).toEqual(['bob@example.com', '***']);
    const listed = (await stores.keeping?.list?.({ name: 'users.signUp', limit: 10 }))?.items ?? [];
    expect(listed.find((s) => s.id === b.id)?.args).toEqual(['bob@example.com', '***']);
    expect(JSON.stringify(listed)).not.toContain('correct horse');
    await plain.close();
    await keeping.close();
  });

  it('refuses a keepArgs or redact of the wrong type, naming the option', async () => {
    expect(() => memoryResultStore({ keepArgs: 'yes' as unknown as boolean })).toThrow(/keepArgs/);
    expect(() => memoryResultStore({ keepArgs: true, redact: 'mask' as unknown as () => unknown })).toThrow(/redact/);
  });
});

describe('status notifications on PostgreSQL', () => {
  it('are sent by the status write itself: not while its transaction is open, never for a rolled-back one, at commit for a committed one', async () => {
    const db = await TestDatabase.create('postgres');
    const listener = new pg.Client({ connectionString: PG_URL });
    const heard: string[] = [];
    try {
      const dataSource = await db.dataSource();
      await listener.connect();
      listener.on('notification', (message) => {
        if (message.channel === 'taskq_status' && message.payload) heard.push(message.payload);
      });
      await listener.query('LISTEN taskq_status');
      async function rebuildIndex(_name: string) {}
      const registry = new TaskRegistry().add('search.rebuildIndex', rebuildIndex);
      const queue = createQueue({ registry, transport: memory(), store: sqlResultStore(dataSource) });

      let rolledBack = '';
      await expect(
        transactional(dataSource, queue, async () => {
          rolledBack = (await queue.submit(rebuildIndex, 'products')).id;
          await sleep(300);
          expect(heard).not.toContain(rolledBack);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');

      let committed = '';
      await transactional(dataSource, queue, async () => {
        committed = (await queue.submit(rebuildIndex, 'products')).id;
        await sleep(300);
        expect(heard).not.toContain(committed);
      });
      await waitFor(() => heard.includes(committed), 'the notification of the committed task');
      await sleep(200);
      console.log(`[postgres] notifications heard: ${heard.length}; rolled back ${rolledBack.slice(-6)} absent`);
      expect(heard).not.toContain(rolledBack);
      await queue.close();
    } finally {
      await listener.end();
      await db.cleanup();
    }
  });
});
