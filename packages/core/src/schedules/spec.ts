import { Cron } from 'croner';
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';
import type { TaskFunction } from '../registry.js';
import { parseDuration, type TaskOptions, validateTaskOptions } from '../task-options.js';
import { lastTick } from './ticks.js';

/** A cron schedule: five fields (minute hour day month weekday) or six with seconds first, in a time zone. */
export interface CronSpec {
  /** `'0 3 * * *'` (03:00 every day) or, with seconds, `'*\/10 * * * * *'`. */
  readonly cron: string;
  /**
   * IANA time zone the fields are read in (`'Europe/Berlin'`). Every scheduler must compute the same ticks, so the
   * default is UTC, never the host's zone.
   * @defaultValue `'UTC'`
   */
  readonly tz?: string;
}

/** A fixed interval, anchored: ticks at `anchor + k × every`, so they never drift, whatever the load. */
export interface EverySpec {
  /** `'15m'`, `'1h'`, `'10s'` or milliseconds; at least one second. */
  readonly every: number | string;
  /**
   * Where the ticks are counted from.
   * @defaultValue the Unix epoch (so `'1h'` ticks on the hour in UTC, `'1d'` at midnight UTC)
   */
  readonly anchor?: Date;
}

/**
 * What start-up does with ticks missed while no scheduler ran: `'last'` runs the latest missed tick once, `'none'`
 * runs none, `{ within, max }` runs the missed ticks of the last `within` (a duration), at most `max` of them (the
 * latest). Ticks missed while this scheduler ran (a leader died, the process stalled) always run.
 */
export type CatchUp = 'last' | 'none' | { readonly within: number | string; readonly max?: number };

/** How a schedule runs its task, besides when. */
export interface ScheduleOptions extends TaskOptions {
  /**
   * Whether a tick submits while the task of the previous tick is still queued or running. `false` skips such a
   * tick; it needs a result store on the queue (the previous tick's id is looked up there).
   * @defaultValue `true`
   */
  readonly overlap?: boolean;
  /** @defaultValue `'last'` */
  readonly catchUp?: CatchUp;
}

/** When a schedule fires, and how. */
export type ScheduleSpec = (CronSpec | EverySpec) & ScheduleOptions;

/** A schedule: data next to the registry; `createScheduler({ queue, schedules })` runs it. */
export interface Schedule<F extends TaskFunction = TaskFunction> {
  /** Its name, stable across deploys: the tick's task id is derived from it and the tick time. */
  readonly id: string;
  readonly spec: ScheduleSpec;
  readonly fn: F;
  readonly args: Parameters<F>;
  /** The next `count` tick times after `from` (default: now). */
  next(from?: Date, count?: number): Date[];
  /**
   * The latest tick time at or before `at` (default: now), by the spec alone (whether it fired is the scheduler's
   * business), or undefined when there was none in the eleven years before it.
   */
  last(at?: Date): Date | undefined;
}

/** @internal A schedule with its spec resolved. */
export interface ResolvedSchedule {
  readonly schedule: Schedule;
  /** The first tick strictly after `after` (ms), or undefined when there is none. */
  readonly nextAfter: (after: number) => number | undefined;
  readonly taskOptions: TaskOptions;
  readonly overlap: boolean;
  readonly catchUp: { readonly withinMs: number; readonly max: number };
  /** Hash of what decides the ticks: a changed spec does not catch up ticks of the old one. */
  readonly fingerprint: string;
}

const ID = /^[A-Za-z0-9_.\-:]{1,200}$/;
const MIN_EVERY_MS = 1_000;
const SPEC_KEYS = new Set(['cron', 'tz', 'every', 'anchor', 'overlap', 'catchUp']);
const TASK_KEYS = new Set(['queue', 'attempts', 'backoff', 'timeout', 'priority']);

const resolved = new WeakMap<Schedule, ResolvedSchedule>();

/**
 * Declares a schedule: `fn(...args)` is submitted at every tick of `spec`, the arguments checked against `fn`'s
 * parameters as `queue.submit` checks them. Opens nothing; importing a module of schedules is free.
 *
 * @example
 * export const nightly = schedule('nightly-report', { cron: '0 3 * * *', tz: 'Europe/Berlin' }, reports.build, 'daily');
 * export const sync = schedule('crm-sync', { every: '15m', overlap: false, queue: 'sync' }, crm.sync);
 */
export function schedule<F extends TaskFunction>(
  id: string,
  spec: ScheduleSpec,
  fn: F,
  ...args: Parameters<F>
): Schedule<F> {
  if (typeof id !== 'string' || !ID.test(id))
    throw new InvalidOptionError(
      'id',
      `a schedule id is letters, digits, '_', '.', '-' or ':' (1-200 characters), got ${JSON.stringify(id)}`,
    );
  if (typeof fn !== 'function') throw new InvalidOptionError(`${id}: fn`, 'expected the task function');
  const resolution = resolveSpec(id, spec);
  const made: Schedule<F> = Object.freeze({
    id,
    spec: Object.freeze({ ...spec }),
    fn,
    args: Object.freeze([...args]) as unknown as Parameters<F>,
    next: (from: Date = new Date(), count = 5) => nextTicks(resolution.nextAfter, from, count),
    last: (at: Date = new Date()) => {
      if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new InvalidOptionError('at', 'expected a Date');
      const tick = lastTick(resolution.nextAfter, at.getTime());
      return tick === undefined ? undefined : new Date(tick);
    },
  });
  resolved.set(made, { ...resolution, schedule: made });
  return made;
}

/** @internal The resolved form of a schedule made by {@link schedule}. */
export function resolvedSchedule(value: Schedule, option: string): ResolvedSchedule {
  const found = typeof value === 'object' && value !== null ? resolved.get(value) : undefined;
  if (!found) throw new InvalidOptionError(option, 'expected a schedule made by schedule(id, spec, fn, ...args)');
  return found;
}

function nextTicks(nextAfter: (after: number) => number | undefined, from: Date, count: number): Date[] {
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) throw new InvalidOptionError('from', 'expected a Date');
  if (!Number.isInteger(count) || count < 0 || count > 1_000)
    throw new InvalidOptionError('count', `expected an integer 0-1000, got ${count}`);
  const ticks: Date[] = [];
  let cursor = from.getTime();
  while (ticks.length < count) {
    const next = nextAfter(cursor);
    if (next === undefined) break;
    ticks.push(new Date(next));
    cursor = next;
  }
  return ticks;
}

function resolveSpec(id: string, spec: ScheduleSpec): Omit<ResolvedSchedule, 'schedule'> {
  const at = (option: string) => `schedule ${id}: ${option}`;
  if (typeof spec !== 'object' || spec === null)
    throw new InvalidOptionError(at('spec'), "expected { cron: '0 3 * * *' } or { every: '15m' }");
  for (const key of Object.keys(spec))
    if (!SPEC_KEYS.has(key) && !TASK_KEYS.has(key))
      throw new InvalidOptionError(
        at(key),
        `not a schedule option (cron, tz, every, anchor, overlap, catchUp, queue, attempts, backoff, timeout, priority)`,
      );
  const taskOptions: Record<string, unknown> = {};
  for (const key of TASK_KEYS) if (key in spec) taskOptions[key] = (spec as unknown as Record<string, unknown>)[key];
  validateTaskOptions(taskOptions, `schedule ${id}`);
  const hasCron = 'cron' in spec && spec.cron !== undefined;
  const hasEvery = 'every' in spec && spec.every !== undefined;
  if (hasCron === hasEvery) throw new InvalidOptionError(at('spec'), 'give exactly one of cron and every');
  const overlap = spec.overlap ?? true;
  if (typeof overlap !== 'boolean') throw new InvalidOptionError(at('overlap'), `expected a boolean, got ${overlap}`);
  const catchUp = resolveCatchUp(spec.catchUp ?? 'last', at('catchUp'));
  const { nextAfter, basis } = hasCron ? cronTicks(spec as CronSpec, at) : everyTicks(spec as EverySpec, at);
  const fingerprint = createHash('sha256').update(basis).digest('hex').slice(0, 16);
  return { nextAfter, taskOptions: taskOptions as TaskOptions, overlap, catchUp, fingerprint };
}

function resolveCatchUp(value: CatchUp, option: string): ResolvedSchedule['catchUp'] {
  if (value === 'last') return { withinMs: Number.POSITIVE_INFINITY, max: 1 };
  if (value === 'none') return { withinMs: 0, max: 0 };
  if (typeof value !== 'object' || value === null)
    throw new InvalidOptionError(option, `expected 'last', 'none' or { within, max }, got ${JSON.stringify(value)}`);
  const withinMs = parseDuration(value.within, `${option}.within`);
  const max = value.max ?? 10;
  if (!Number.isInteger(max) || max < 0 || max > 1_000)
    throw new InvalidOptionError(`${option}.max`, `expected an integer 0-1000, got ${max}`);
  return { withinMs, max };
}

function cronTicks(
  spec: CronSpec,
  at: (option: string) => string,
): { nextAfter: (after: number) => number | undefined; basis: string } {
  const tz = spec.tz ?? 'UTC';
  if (typeof tz !== 'string' || !isTimeZone(tz))
    throw new InvalidOptionError(
      at('tz'),
      `expected an IANA time zone such as 'Europe/Berlin', got ${JSON.stringify(tz)}`,
    );
  if (typeof spec.cron !== 'string')
    throw new InvalidOptionError(at('cron'), `expected a cron expression, got ${typeof spec.cron}`);
  let cron: Cron;
  try {
    cron = new Cron(spec.cron, { timezone: tz, paused: true });
  } catch (error) {
    throw new InvalidOptionError(
      at('cron'),
      `${JSON.stringify(spec.cron)} is not a cron expression (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  // croner counts from the next whole second after the date it is given: ticks are whole seconds.
  const nextAfter = (after: number) => cron.nextRun(new Date(after))?.getTime();
  if (nextAfter(Date.now()) === undefined)
    throw new InvalidOptionError(at('cron'), `${JSON.stringify(spec.cron)} never fires`);
  return { nextAfter, basis: `cron\0${spec.cron.trim()}\0${tz}` };
}

function everyTicks(
  spec: EverySpec,
  at: (option: string) => string,
): { nextAfter: (after: number) => number; basis: string } {
  const every = parseDuration(spec.every, at('every'));
  if (!Number.isInteger(every) || every < MIN_EVERY_MS)
    throw new InvalidOptionError(
      at('every'),
      `expected at least 1 s in whole milliseconds, got ${JSON.stringify(spec.every)}`,
    );
  const anchor = spec.anchor ?? new Date(0);
  if (!(anchor instanceof Date) || Number.isNaN(anchor.getTime()))
    throw new InvalidOptionError(at('anchor'), 'expected a valid Date');
  const base = anchor.getTime();
  return {
    nextAfter: (after) => base + (Math.floor((after - base) / every) + 1) * every,
    basis: `every\0${every}\0${base}`,
  };
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
