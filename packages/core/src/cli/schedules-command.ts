import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import type { Scheduler } from '../schedules/scheduler.js';
import type { Schedule } from '../schedules/spec.js';
import { registerTypeScript, TYPESCRIPT_EXTENSIONS } from './typescript.js';

const HELP = `taskq schedules <module>[#export] [--count n] [--from <ISO time>]

Lists the schedules <module> exports and their next run times. The export
(default: the default export, else one named \`schedules\` or \`scheduler\`) is
an array of schedule(...), a scheduler (createScheduler(...)), or a function
returning either. Nothing connects.

Options:
  -n, --count <n>     Next runs per schedule (default 5).
  --from <time>       Count from this time instead of now (ISO 8601).
`;

/** What a schedules module may export. */
type SchedulesExport = readonly Schedule[] | Scheduler;

const isSchedule = (value: unknown): value is Schedule =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Schedule).id === 'string' &&
  typeof (value as Schedule).next === 'function';

const isScheduler = (value: unknown): value is Scheduler =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Scheduler).start === 'function' &&
  typeof (value as Scheduler).stop === 'function' &&
  Array.isArray((value as Scheduler).schedules);

/**
 * Loads `<module>[#export]`: an array of schedules or a scheduler, or a (possibly async) function returning one.
 */
export async function loadSchedules(reference: string): Promise<SchedulesExport> {
  const hash = reference.lastIndexOf('#');
  const modulePath = hash > 0 ? reference.slice(0, hash) : reference;
  const name = hash > 0 ? reference.slice(hash + 1) : undefined;
  const file = resolve(process.cwd(), modulePath);
  if (TYPESCRIPT_EXTENSIONS.has(extname(file).toLowerCase())) await registerTypeScript(modulePath);
  const namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const candidates = name ? [namespace[name]] : [namespace.default, namespace.schedules, namespace.scheduler];
  for (let value of candidates) {
    if (typeof value === 'function') value = await (value as () => unknown)();
    if (isScheduler(value)) return value;
    if (Array.isArray(value) && value.every(isSchedule)) return value;
  }
  throw new InvalidOptionError(
    '--schedules',
    `${reference} must export ${name ? `as ${JSON.stringify(name)} ` : '(default, `schedules` or `scheduler`) '}an array of schedule(...), a scheduler, or a function returning one`,
  );
}

/** `taskq schedules <module>`: each schedule and its next run times. */
export async function runSchedulesCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      count: { type: 'string', short: 'n' },
      from: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    process.stdout.write(HELP);
    return values.help ? 0 : 1;
  }
  const count = values.count === undefined ? 5 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 1_000)
    throw new Error(`--count expects an integer 1-1000, got ${JSON.stringify(values.count)}`);
  const from = values.from === undefined ? new Date() : new Date(values.from);
  if (Number.isNaN(from.getTime()))
    throw new Error(`--from expects an ISO 8601 time, got ${JSON.stringify(values.from)}`);
  const loaded = await loadSchedules(positionals[0]);
  const schedules = isScheduler(loaded) ? loaded.schedules : loaded;
  for (const item of schedules) {
    const { spec } = item;
    const when =
      'cron' in spec && spec.cron !== undefined
        ? `cron ${spec.cron} (${spec.tz ?? 'UTC'})`
        : `every ${String((spec as { every: unknown }).every)}`;
    const flags = [spec.overlap === false ? 'no overlap' : '', spec.queue ? `queue ${spec.queue}` : ''].filter(Boolean);
    process.stdout.write(`${item.id}  ${when}${flags.length > 0 ? `  [${flags.join(', ')}]` : ''}\n`);
    for (const tick of item.next(from, count)) process.stdout.write(`  ${tick.toISOString()}\n`);
  }
  return 0;
}
