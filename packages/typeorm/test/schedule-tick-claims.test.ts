import {
  createQueue,
  createScheduler,
  type FiredEvent,
  type Scheduler,
  type SkippedEvent,
  schedule,
  type TaskQueue,
  TaskRegistry,
  tickId,
} from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { sqlResultStore, sqlTickClaims } from '../src/index.js';
import { TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { eventually, sleep } from '../../../test-support/wait.js';

async function report(kind: string) {
  return kind;
}
const registry = new TaskRegistry().add('report', report);

interface Member {
  readonly scheduler: Scheduler;
  readonly queue: TaskQueue;
  readonly fired: FiredEvent[];
  readonly skipped: SkippedEvent[];
}

describe('schedules with the SQL store on PostgreSQL: one claim per tick', () => {
  const broker = testBroker('tqsqlsched');
  const members: Member[] = [];
  let db: TestDatabase | undefined;

  afterEach(async () => {
    for (const member of members.splice(0)) {
      await member.scheduler.stop();
      await member.queue.close();
    }
    await db?.cleanup();
    db = undefined;
    await broker.cleanup();
  });

  async function startMember(database: TestDatabase, every: ReturnType<typeof schedule>) {
    // Each scheduler with its own pool and broker connections, as separate processes would have.
    const dataSource = await database.dataSource([], { poolSize: 3 });
    const queue = createQueue({ registry, transport: broker.amqp(), store: sqlResultStore(dataSource) });
    const scheduler = createScheduler({ queue, schedules: [every], claims: sqlTickClaims(dataSource, queue) });
    const member: Member = { scheduler, queue, fired: [], skipped: [] };
    scheduler.on('fired', (event) => member.fired.push(event));
    scheduler.on('skipped', (event) => member.skipped.push(event));
    await scheduler.start();
    members.push(member);
    return member;
  }

  it('three schedulers for 5 s: each tick has one claim row, one task in the outbox-published queue, fired once', async () => {
    db = await TestDatabase.create('postgres');
    const name = broker.queue('claims');
    const every = schedule('sql-every-second', { every: '1s', queue: name }, report, 'x');
    for (let i = 0; i < 3; i++) await startMember(db, every);
    await sleep(5_200);
    for (const member of members) await member.scheduler.stop();
    const reader = await db.dataSource([], { synchronize: false });
    const rows = (await reader.query(
      `SELECT "tick_at", "task_id" FROM ${db.table('taskq_schedule_ticks')} WHERE "schedule_id" = $1 ORDER BY "tick_at"`,
      ['sql-every-second'],
    )) as { tick_at: string; task_id: string }[];
    const ticks = rows.map((row) => Number(row.tick_at));
    const fired = members.flatMap((m) => m.fired).map((f) => f.tick.getTime());
    const claimedElsewhere = members.flatMap((m) => m.skipped).filter((s) => s.reason === 'claimed').length;
    const received = await broker.drainQueue(name);
    console.log(
      `claims ${rows.length}, fired ${fired.length} (by ${members.map((m) => m.fired.length).join('/')}), claimed elsewhere ${claimedElsewhere}, messages ${received.length}`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBe(1_000);
    expect([...fired].sort((a, b) => a - b)).toEqual(ticks);
    expect(rows.map((row) => row.task_id)).toEqual(ticks.map((t) => tickId('sql-every-second', t)));
    expect([...received].sort()).toEqual(rows.map((row) => row.task_id).sort());
    // The other two saw each tick's conflict (the last tick may have been reached by fewer before the stop).
    expect(claimedElsewhere).toBeGreaterThanOrEqual(2 * (ticks.length - 1));
  });

  it('all down for 3 s, then one starts: the last missed tick is claimed and run once', async () => {
    db = await TestDatabase.create('postgres');
    const name = broker.queue('claims-catchup');
    const every = schedule('sql-catch-up', { every: '1s', queue: name }, report, 'y');
    const a = await startMember(db, every);
    await eventually(() => a.fired.length >= 2, 'two ticks');
    await a.scheduler.stop();
    const lastBefore = Math.max(...a.fired.map((f) => f.tick.getTime()));
    await sleep(3_200);
    const beforeStart = Date.now();
    const b = await startMember(db, every);
    await eventually(() => b.fired.some((f) => !f.catchUp), 'a regular tick');
    const caught = b.fired.filter((f) => f.catchUp).map((f) => f.tick.getTime());
    expect(caught).toHaveLength(1);
    expect(caught[0]).toBeGreaterThan(beforeStart - 1_000);
    expect(caught[0] - lastBefore).toBeGreaterThanOrEqual(3_000);
  });
});
