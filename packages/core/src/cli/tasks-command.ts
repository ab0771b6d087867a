import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import type { ResultStore, StoredStatus, TaskListQuery, TaskState } from '../result-store.js';
import { describeExports, pickExport } from './load-worker.js';
import { printable, table } from './terminal.js';
import { registerTypeScript, TYPESCRIPT_EXTENSIONS } from './typescript.js';

/** Help text of `taskq tasks`. */
export const TASKS_HELP = `taskq tasks list|show — the task index of a result store

Usage:
  taskq tasks list [--state S] [--name N] [--queue Q] [--since ISO-TIME] [--limit N] [--cursor C] [--json]
                                  Tasks newest first, one page (default 50); the last line names
                                  the cursor of the next page.
  taskq tasks show <id> [--json]  One task: state, attempts, deliveries, times, progress, error.

The store is the application's: a module that default-exports a result store, or a (possibly
async) function returning one, e.g. for @taskq/typeorm:
  // store.js
  export default async () => sqlResultStore(await dataSource.initialize());

Options:
  --store <module>     The store module (default: $TASKQ_STORE). CommonJS, ESM, or .ts through tsx.
  --json               JSON instead of a table.
`;

const STATES: readonly TaskState[] = ['queued', 'active', 'retrying', 'succeeded', 'dead', 'cancelled'];

/** What the command runs against, and where it writes. */
export interface TasksCommandOptions {
  /** Use this store (it is not closed); otherwise the `--store` / `TASKQ_STORE` module's. */
  readonly store?: ResultStore;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdout?: (text: string) => void;
}

/** Runs `taskq tasks list|show`; resolves with the exit code (2 on a usage error, 1 for an unknown id). */
export async function runTasksCommand(argv: readonly string[], options: TasksCommandOptions = {}): Promise<number> {
  const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text));
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      store: { type: 'string' },
      state: { type: 'string' },
      name: { type: 'string' },
      queue: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, ...rest] = positionals;
  if (values.help || sub === undefined) {
    stdout(TASKS_HELP);
    return values.help ? 0 : 2;
  }
  if ((sub !== 'list' && sub !== 'show') || (sub === 'show' ? rest.length !== 1 : rest.length !== 0)) {
    stdout(`taskq tasks: expected "list" or "show <id>"\n\n${TASKS_HELP}`);
    return 2;
  }
  const store = options.store ?? (await loadStore(values.store ?? (options.env ?? process.env).TASKQ_STORE));
  if (sub === 'show') {
    const status = await store.get(rest[0]);
    if (!status) {
      stdout(`no task ${printable(rest[0])} in the store\n`);
      return 1;
    }
    stdout(values.json ? `${JSON.stringify(status, null, 2)}\n` : describe(status));
    return 0;
  }
  if (typeof store.list !== 'function')
    throw new InvalidOptionError('store', 'this result store has no task index (list()); both of taskq stores do');
  const page = await store.list(listQuery(values));
  if (values.json) {
    stdout(`${JSON.stringify({ items: page.items, next: page.next ?? null }, null, 2)}\n`);
    return 0;
  }
  const rows = page.items.map((s) => [
    s.id,
    s.name,
    s.queue ?? '',
    s.state,
    String(s.attempts),
    s.enqueuedAt.toISOString(),
    progressText(s.progress),
  ]);
  stdout(table(['ID', 'TASK', 'QUEUE', 'STATE', 'ATTEMPTS', 'ENQUEUED', 'PROGRESS'], rows));
  stdout(page.next ? `next page: --cursor ${page.next}\n` : `${page.items.length} task(s), last page\n`);
  return 0;
}

function listQuery(values: Record<string, string | boolean | undefined>): TaskListQuery {
  const text = (key: string): string | undefined => (typeof values[key] === 'string' ? values[key] : undefined);
  const state = text('state');
  if (state !== undefined && !STATES.includes(state as TaskState))
    throw new InvalidOptionError('--state', `expected one of ${STATES.join(', ')}, got ${JSON.stringify(state)}`);
  const sinceText = text('since');
  const since = sinceText === undefined ? undefined : new Date(sinceText);
  if (since !== undefined && Number.isNaN(since.getTime()))
    throw new InvalidOptionError('--since', `expected an ISO time such as 2026-11-29T10:00:00Z, got ${sinceText}`);
  const limitText = text('limit');
  const limit = limitText === undefined ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new InvalidOptionError('--limit', `expected an integer 1-1000, got ${limitText}`);
  return {
    state: state as TaskState | undefined,
    name: text('name'),
    queue: text('queue'),
    since,
    cursor: text('cursor'),
    limit,
  };
}

/** Imports the store module and returns its store, calling a factory if it exports one. */
async function loadStore(modulePath: string | undefined): Promise<ResultStore> {
  if (!modulePath)
    throw new InvalidOptionError('store', 'give the store module with --store or the TASKQ_STORE environment variable');
  const file = resolve(process.cwd(), modulePath);
  if (TYPESCRIPT_EXTENSIONS.has(extname(file).toLowerCase())) await registerTypeScript(modulePath);
  const namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const exported = pickExport(namespace);
  const store = typeof exported === 'function' ? await (exported as () => unknown)() : exported;
  if (typeof store === 'object' && store !== null && typeof (store as ResultStore).get === 'function')
    return store as ResultStore;
  throw new InvalidOptionError(
    'store',
    `${modulePath} must export a result store or a function returning one; found ${describeExports(namespace)}`,
  );
}

function describe(status: StoredStatus): string {
  const lines: Array<[string, string | undefined]> = [
    ['id', status.id],
    ['task', status.name],
    ['queue', status.queue],
    ['state', status.state],
    ['attempts', String(status.attempts)],
    ['deliveries', status.deliveries === undefined ? undefined : String(status.deliveries)],
    ['enqueued', status.enqueuedAt.toISOString()],
    ['started', status.startedAt?.toISOString()],
    ['finished', status.finishedAt?.toISOString()],
    ['worker', status.workerId],
    ['progress', status.progress === undefined ? undefined : progressText(status.progress)],
    [
      'error',
      status.error ? `${status.error.code ?? status.error.name ?? 'Error'}: ${status.error.message}` : undefined,
    ],
  ];
  const shown = lines.filter((line): line is [string, string] => line[1] !== undefined);
  const width = Math.max(...shown.map(([key]) => key.length));
  return `${shown.map(([key, value]) => `${key.padEnd(width)}  ${printable(value)}`).join('\n')}\n`;
}

function progressText(progress: unknown): string {
  if (progress === undefined) return '';
  return typeof progress === 'number' ? `${progress}%` : JSON.stringify(progress);
}
