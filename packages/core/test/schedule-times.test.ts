import { describe, expect, it } from 'vitest';
import {
  createQueue,
  createScheduler,
  DuplicateScheduleError,
  memory,
  NoLeadershipError,
  schedule,
  TaskRegistry,
  tickId,
  type Transport,
} from '../src/index.js';
import { isUuid } from '../src/internal/uuid.js';
import { parseEnvelope } from '../src/envelope.js';
import { resolvedSchedule } from '../src/schedules/spec.js';
import { dueTicks } from '../src/schedules/ticks.js';

async function report(kind: string, day: string) {
  return `${kind} ${day}`;
}
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('cron ticks in a time zone across daylight saving changes', () => {
  it('Europe/Berlin, 2026-03-29: 02:30 does not exist; the daily 02:30 fires once, at 03:00 CEST (the first instant after the gap)', () => {
    const daily = schedule('berlin-0230', { cron: '30 2 * * *', tz: 'Europe/Berlin' }, report, 'daily', 'x');
    expect(iso(daily.next(new Date('2026-03-27T12:00:00Z'), 4))).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST: 02:30 was skipped by the clocks
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
      '2026-03-31T00:30:00.000Z',
    ]);
  });

  it('Europe/Berlin, 2026-03-29: an hourly cron has no tick in the missing hour and no extra one', () => {
    const hourly = schedule('berlin-hourly', { cron: '0 * * * *', tz: 'Europe/Berlin' }, report, 'h', 'x');
    expect(iso(hourly.next(new Date('2026-03-28T23:30:00Z'), 3))).toEqual([
      '2026-03-29T00:00:00.000Z', // 01:00 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-29T02:00:00.000Z', // 04:00 CEST
    ]);
  });

  it('Europe/Berlin, 2026-10-25: 02:30 happens twice (CEST, then CET); the daily 02:30 fires once, at the first', () => {
    const daily = schedule('berlin-0230-oct', { cron: '30 2 * * *', tz: 'Europe/Berlin' }, report, 'daily', 'x');
    expect(iso(daily.next(new Date('2026-10-24T12:00:00Z'), 3))).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST; 01:30Z (02:30 CET) does not fire
      '2026-10-26T01:30:00.000Z', // 02:30 CET
      '2026-10-27T01:30:00.000Z',
    ]);
  });

  it('Europe/Berlin, 2026-10-25: an hourly cron fires every real hour, both 02:00s included', () => {
    const hourly = schedule('berlin-hourly-oct', { cron: '0 * * * *', tz: 'Europe/Berlin' }, report, 'h', 'x');
    expect(iso(hourly.next(new Date('2026-10-24T23:30:00Z'), 3))).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T02:00:00.000Z', // 03:00 CET
    ]);
  });

  it('America/New_York, 2026-11-01: 01:30 happens twice; the daily 01:30 fires once, at 01:30 EDT', () => {
    const daily = schedule('ny-0130', { cron: '30 1 * * *', tz: 'America/New_York' }, report, 'daily', 'x');
    expect(iso(daily.next(new Date('2026-10-31T12:00:00Z'), 2))).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; 06:30Z (01:30 EST) does not fire
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('without tz the fields are read in UTC, whatever the host zone', () => {
    const daily = schedule('utc', { cron: '0 3 * * *' }, report, 'daily', 'x');
    expect(iso(daily.next(new Date('2026-03-29T00:00:00Z'), 1))).toEqual(['2026-03-29T03:00:00.000Z']);
  });

  it('six fields: seconds first', () => {
    const fast = schedule('secs', { cron: '*/10 * * * * *' }, report, 'f', 'x');
    expect(iso(fast.next(new Date('2026-01-01T00:00:04.500Z'), 2))).toEqual([
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:20.000Z',
    ]);
  });
});

describe('every: anchored intervals', () => {
  it('ticks at anchor + k × interval, wherever the count starts, so a late wake-up does not shift later ticks', () => {
    const every = schedule('every', { every: '15m' }, report, 'e', 'x');
    expect(iso(every.next(new Date('2026-01-01T10:07:31.250Z'), 3))).toEqual([
      '2026-01-01T10:15:00.000Z',
      '2026-01-01T10:30:00.000Z',
      '2026-01-01T10:45:00.000Z',
    ]);
    // From a tick itself: the next one, not the same one again.
    expect(iso(every.next(new Date('2026-01-01T10:15:00.000Z'), 1))).toEqual(['2026-01-01T10:30:00.000Z']);
    const anchored = schedule('anchored', { every: '1h', anchor: new Date('2026-01-01T00:20:00Z') }, report, 'e', 'x');
    expect(iso(anchored.next(new Date('2026-01-01T10:07:00Z'), 2))).toEqual([
      '2026-01-01T10:20:00.000Z',
      '2026-01-01T11:20:00.000Z',
    ]);
  });
});

describe('the last tick', () => {
  it('is the latest tick at or before the given time, by the spec, across a daylight saving gap and for every', () => {
    const daily = schedule('berlin-0230-last', { cron: '30 2 * * *', tz: 'Europe/Berlin' }, report, 'daily', 'x');
    expect(daily.last(new Date('2026-03-29T12:00:00Z'))?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(daily.last(new Date('2026-03-29T01:00:00Z'))?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(daily.last(new Date('2026-03-29T00:59:59Z'))?.toISOString()).toBe('2026-03-28T01:30:00.000Z');
    const quarter = schedule('quarter-last', { every: '15m' }, report, 'q', 'x');
    expect(quarter.last(new Date('2026-05-01T10:44:59Z'))?.toISOString()).toBe('2026-05-01T10:30:00.000Z');
    const perSecond = schedule('second-last', { cron: '* * * * * *' }, report, 's', 'x');
    expect(perSecond.last(new Date('2026-05-01T10:44:59.500Z'))?.toISOString()).toBe('2026-05-01T10:44:59.000Z');
    const yearly = schedule('yearly-last', { cron: '0 0 1 1 *' }, report, 'y', 'x');
    expect(yearly.last(new Date('2026-05-01T00:00:00Z'))?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
});

describe('tick ids', () => {
  it('are the same for every scheduler, differ by schedule and tick, sort by tick time and pass the envelope check', () => {
    const a = tickId('nightly', Date.parse('2026-03-29T01:00:00Z'));
    expect(a).toBe(tickId('nightly', Date.parse('2026-03-29T01:00:00Z')));
    expect(a).not.toBe(tickId('nightly', Date.parse('2026-03-30T01:00:00Z')));
    expect(a).not.toBe(tickId('weekly', Date.parse('2026-03-29T01:00:00Z')));
    expect(isUuid(a)).toBe(true);
    expect(a[14]).toBe('7');
    expect(tickId('z', 1_000) < tickId('a', 2_000)).toBe(true);
    const body = Buffer.from(JSON.stringify({ v: 1, id: a, task: 't', args: [], meta: {}, ts: 1 }));
    expect(parseEnvelope(body, a).id).toBe(a);
  });
});

describe('catch-up: which missed ticks run when a scheduler becomes active', () => {
  const resolved = (catchUp?: 'last' | 'none' | { within: string; max?: number }) =>
    resolvedSchedule(schedule(`c-${String(Math.random())}`, { every: '1m', catchUp }, report, 'c', 'x'), 's');
  const t = (hhmm: string) => Date.parse(`2026-01-01T${hhmm}:00Z`);

  it("default 'last': after two hours down, only the latest missed tick; ticks since its own start all run", () => {
    const { catchUp, alive } = dueTicks(resolved(), t('08:00'), t('10:00') + 30_000, t('10:03') + 30_000, 100);
    expect(catchUp).toEqual([t('10:00')]);
    expect(alive).toEqual([t('10:01'), t('10:02'), t('10:03')]);
  });

  it("'none' runs no missed tick; { within, max } the latest ones within the window", () => {
    expect(dueTicks(resolved('none'), t('08:00'), t('10:00') + 1, t('10:00') + 1, 100).catchUp).toEqual([]);
    expect(
      dueTicks(resolved({ within: '10m', max: 3 }), t('08:00'), t('10:00') + 1, t('10:00') + 1, 100).catchUp,
    ).toEqual([t('09:58'), t('09:59'), t('10:00')]);
    expect(
      dueTicks(resolved({ within: '2m', max: 5 }), t('08:00'), t('10:00') + 1, t('10:00') + 1, 100).catchUp,
    ).toEqual([t('09:59'), t('10:00')]);
  });

  it('nothing is caught up for a schedule never fired before; a month down with a per-second cron is found at once', () => {
    expect(dueTicks(resolved(), undefined, t('10:00') + 1, t('10:00') + 1, 100).catchUp).toEqual([]);
    const perSecond = resolvedSchedule(schedule('per-second', { cron: '* * * * * *' }, report, 'c', 'x'), 's');
    const started = Date.now();
    const { catchUp } = dueTicks(perSecond, t('10:00') - 30 * 86_400_000, t('10:00') + 500, t('10:00') + 500, 100);
    expect(catchUp).toEqual([t('10:00')]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('options are checked where they are given', () => {
  it('names the bad option', () => {
    expect(() => schedule('bad cron', { cron: '0 3' }, report, 'a', 'b')).toThrow(/option "id"/);
    expect(() => schedule('x', { cron: '61 3 * * *' }, report, 'a', 'b')).toThrow(/schedule x: cron/);
    expect(() => schedule('x', { cron: '0 3 * * *', tz: 'Mars/Olympus' }, report, 'a', 'b')).toThrow(/schedule x: tz/);
    expect(() => schedule('x', { every: '10ms' }, report, 'a', 'b')).toThrow(/schedule x: every/);
    expect(() => schedule('x', { every: '1s', queue: 'a b' }, report, 'a', 'b')).toThrow(/schedule x\.queue/);
    expect(() => schedule('x', { every: '1s', delay: '1s' } as never, report, 'a', 'b')).toThrow(/schedule x: delay/);
    expect(() => schedule('x', { every: '1s', cron: '* * * * *' } as never, report, 'a', 'b')).toThrow(/exactly one/);
    expect(() => schedule('x', { every: '1s', catchUp: 'all' as never }, report, 'a', 'b')).toThrow(/catchUp/);
  });

  it('createScheduler refuses duplicate ids, unregistered functions, overlap: false without a store, a transport that cannot elect', () => {
    const registry = new TaskRegistry().add('report', report);
    const queue = createQueue({ registry, transport: memory() });
    const one = schedule('one', { every: '1s' }, report, 'a', 'b');
    expect(() =>
      createScheduler({ queue, schedules: [one, schedule('one', { every: '2s' }, report, 'a', 'b')] }),
    ).toThrow(DuplicateScheduleError);
    async function unknown() {}
    expect(() => createScheduler({ queue, schedules: [schedule('u', { every: '1s' }, unknown)] })).toThrow(
      /is not a registered task/,
    );
    expect(() =>
      createScheduler({ queue, schedules: [schedule('o', { every: '1s', overlap: false }, report, 'a', 'b')] }),
    ).toThrow(/schedules\[0\]\.overlap.*result store/);
    const inner = memory();
    // A custom transport without leader election.
    const bare: Transport = {
      kind: 'custom',
      durable: false,
      publish: (message) => inner.publish(message),
      publishMany: (messages) => inner.publishMany(messages),
      consume: (options, onDelivery) => inner.consume(options, onDelivery),
      deadLetter: (message) => inner.deadLetter(message),
      dead: inner.dead,
      retain: () => inner.retain(),
      close: () => inner.close(),
    };
    expect(() => createScheduler({ queue: createQueue({ registry, transport: bare }), schedules: [one] })).toThrow(
      NoLeadershipError,
    );
  });

  it('arguments are type-checked against the task function', () => {
    // @ts-expect-error a number where report takes a string
    schedule('typed', { every: '1s' }, report, 'a', 1);
    // @ts-expect-error missing argument
    schedule('typed2', { every: '1s' }, report, 'a');
  });
});

describe('submit with({ id })', () => {
  it('uses the given id; refuses an id that is no lower-case UUID, in submitMany and in the queue defaults', async () => {
    const registry = new TaskRegistry().add('report', report);
    const transport = memory();
    const queue = createQueue({ registry, transport });
    const id = tickId('s', 1_700_000_000_000);
    expect((await queue.with({ id }).submit(report, 'a', 'b')).id).toBe(id);
    await expect(queue.with({ id: 'ABC' }).submit(report, 'a', 'b')).rejects.toThrow(/option "with\.id"/);
    await expect(queue.with({ id }).submitMany(report, [['a', 'b']])).rejects.toThrow(/option "id"/);
    expect(() => createQueue({ registry, transport, defaults: { id } })).toThrow(/option "defaults\.id"/);
    await queue.close();
  });
});
