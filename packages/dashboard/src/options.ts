import type { IncomingMessage } from 'node:http';
import {
  consoleLogger,
  InvalidOptionError,
  type Logger,
  type Schedule,
  type Scheduler,
  type TaskQueue,
} from '@taskq/core';
import { parseDuration } from '@taskq/core/adapter';

/**
 * Who `authorize` says the request comes from: a user name, an object describing the user (logged as JSON with each
 * action), or `true` when it does not matter.
 */
export type DashboardPrincipal = string | true | { readonly [key: string]: unknown };

/** Where a value shown by the dashboard comes from, for {@link DashboardOptions.redact}. */
export interface RedactContext {
  /** The task id. */
  readonly id: string;
  /** The task's registry id, e.g. `mail.sendWelcomeMail`. */
  readonly task: string;
  /** `args`: the task's arguments (kept by a store with `keepArgs`); `result`: what it returned. */
  readonly part: 'args' | 'result';
}

/** Options of {@link dashboard}. */
export interface DashboardOptions {
  /**
   * The queue whose transport (queues, workers, dead letters, pause and cancel) and result store (tasks, the chart)
   * the dashboard shows.
   */
  readonly queue: TaskQueue;
  /**
   * Decides who may use the dashboard: return who the request comes from (logged with every action it takes), or
   * `false`/`null`/`undefined` to refuse it with 403. Called for every request, assets included; it may be async
   * (read a session, check a role). Without it the dashboard answers 403 to everything, except when `readOnly` is
   * set and the request comes from loopback with no proxy header (a developer's machine).
   */
  readonly authorize?: (
    request: IncomingMessage,
  ) => DashboardPrincipal | false | null | undefined | Promise<DashboardPrincipal | false | null | undefined>;
  /**
   * Shows everything and allows no action: the buttons are not rendered and every POST is refused with 403
   * `TASKQ_DASHBOARD_READ_ONLY`.
   * @defaultValue `false`
   */
  readonly readOnly?: boolean;
  /**
   * Rewrites a task's arguments or result before they are shown (drop a password, mask an e-mail address). It gets
   * the value in taskq's encoded JSON form and returns what to show; whatever it returns is shown as text.
   * @defaultValue shown as stored
   */
  readonly redact?: (value: unknown, context: RedactContext) => unknown;
  /**
   * The path the browser reaches the dashboard under, for its links, forms and cookie, when a proxy in front
   * changes it (`/ops/taskq` while the app mounts it at `/admin/taskq`).
   * @defaultValue the path it is mounted at
   */
  readonly basePath?: string;
  /**
   * Logical queues to show on the overview even when no live worker consumes them and none finished a task in the
   * last hour (which are shown anyway).
   * @defaultValue `[]`
   */
  readonly queues?: readonly string[];
  /**
   * How often an open page re-reads what it shows (queue depths, lists) and, when it changed, gets the new content
   * pushed. A task's own page is pushed each change by the result store at once.
   * @defaultValue `'2s'`
   */
  readonly refreshInterval?: number | string;
  /** Where actions (who did what) and failures are logged. @defaultValue actions and warnings to stderr */
  readonly logger?: Logger;
  /** The name in the page title and header. @defaultValue `'taskq'` */
  readonly title?: string;
  /**
   * The application's schedules (the list given to `createScheduler`, or the scheduler itself): a Schedules page shows
   * each one's spec, overlap setting, next runs and the task of its latest tick. Without it there is no such page.
   * @defaultValue no schedules page
   */
  readonly schedules?: readonly Schedule[] | Scheduler;
}

/** @internal {@link DashboardOptions} after validation. */
export interface ResolvedDashboardOptions {
  readonly queue: TaskQueue;
  readonly authorize: DashboardOptions['authorize'];
  readonly readOnly: boolean;
  readonly redact: (value: unknown, context: RedactContext) => unknown;
  readonly basePath: string | undefined;
  readonly queues: readonly string[];
  readonly refreshMs: number;
  readonly logger: Logger;
  readonly title: string;
  /** Undefined: no schedules page. */
  readonly schedules: readonly Schedule[] | undefined;
}

const KNOWN = new Set([
  'queue',
  'authorize',
  'readOnly',
  'redact',
  'basePath',
  'queues',
  'refreshInterval',
  'logger',
  'title',
  'schedules',
]);

/** @internal Checks the options once, naming the option and the bad value. */
export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'dashboard() takes an options object: dashboard({ queue, authorize })');
  for (const key of Object.keys(options))
    if (!KNOWN.has(key))
      throw new InvalidOptionError(key, `unknown dashboard option; the options are ${[...KNOWN].join(', ')}`);
  const { queue } = options;
  if (typeof queue !== 'object' || queue === null || typeof queue.transport !== 'object' || !queue.transport)
    throw new InvalidOptionError('queue', 'expected the application queue (createQueue(...))');
  for (const name of ['authorize', 'redact'] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function')
      throw new InvalidOptionError(name, `expected a function, got ${typeof value}`);
  }
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean')
    throw new InvalidOptionError('readOnly', `expected true or false, got ${JSON.stringify(options.readOnly)}`);
  const basePath = options.basePath;
  if (
    basePath !== undefined &&
    (typeof basePath !== 'string' || !/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*\/?$/.test(basePath))
  )
    throw new InvalidOptionError(
      'basePath',
      `expected a path such as "/ops/taskq" (starting with "/", no query), got ${JSON.stringify(basePath)}`,
    );
  const queues = options.queues ?? [];
  if (!Array.isArray(queues) || queues.some((q) => typeof q !== 'string' || q === ''))
    throw new InvalidOptionError('queues', 'expected an array of queue names');
  const refreshMs = parseDuration(options.refreshInterval ?? '2s', 'refreshInterval');
  if (refreshMs < 100) throw new InvalidOptionError('refreshInterval', 'expected at least 100 ms');
  const title = options.title ?? 'taskq';
  if (typeof title !== 'string' || title === '') throw new InvalidOptionError('title', 'expected a non-empty string');
  return {
    queue,
    schedules: resolveSchedules(options.schedules),
    authorize: options.authorize,
    readOnly: options.readOnly ?? false,
    redact: options.redact ?? ((value) => value),
    basePath: basePath?.replace(/\/$/, ''),
    queues: [...queues],
    refreshMs,
    logger: options.logger ?? consoleLogger('info'),
    title,
  };
}

function resolveSchedules(value: DashboardOptions['schedules']): readonly Schedule[] | undefined {
  if (value === undefined) return undefined;
  const list = Array.isArray(value) ? value : (value as Scheduler | null)?.schedules;
  const expected = 'expected the schedules given to createScheduler (schedule(...) values), or the scheduler';
  if (!Array.isArray(list)) throw new InvalidOptionError('schedules', expected);
  list.forEach((item: Schedule, i) => {
    if (typeof item !== 'object' || item === null || typeof item.id !== 'string' || typeof item.last !== 'function')
      throw new InvalidOptionError(`schedules[${i}]`, expected);
  });
  return [...list];
}

/** @internal True for a request from this machine that came through no proxy. */
export function isDirectLoopback(request: IncomingMessage): boolean {
  const address = request.socket?.remoteAddress ?? '';
  const loopback = address === '::1' || /^(::ffff:)?127\./.test(address);
  if (!loopback) return false;
  // A proxy on the same machine makes every request look local: one that says it forwarded counts as remote.
  const h = request.headers;
  return h.forwarded === undefined && h['x-forwarded-for'] === undefined && h['x-real-ip'] === undefined;
}
