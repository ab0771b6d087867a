import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import { createQueue } from '../queue.js';
import { TaskRegistry } from '../registry.js';
import type { Transport, WorkerHeartbeat } from '../transport.js';
import { cliTransport, printable, table } from './terminal.js';

/** The commands of this module. */
export const CONTROL_COMMANDS = ['queues', 'workers', 'pause', 'resume', 'cancel'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

/** Help text of the control-plane commands. */
export const CONTROL_HELP = `taskq queues|workers|pause|resume|cancel — the control plane

Usage:
  taskq queues [<queue> ...] [--json]   Per queue: depth (ready messages), consumers, paused, running
                                        (tasks running in the live workers that consume it). Without
                                        names: the queues the live workers consume.
  taskq workers [--json]                The live workers: id, host, pid, queues, running/concurrency,
                                        version, started at.
  taskq pause <queue>                   Workers stop starting its tasks (within 2 s); submits go on.
  taskq resume <queue>                  Workers take its tasks again.
  taskq cancel <id>                     Aborts the signal of the task if a worker runs it. The CLI has
                                        no result store: a queued task is cancelled with queue.cancel(id)
                                        from the application, which marks it in the store.

Options:
  --url <amqp-url>     Broker (default: $TASKQ_URL). The password is never printed.
  --prefix <prefix>    Prefix of the queues (default: $TASKQ_PREFIX, else taskq).
  --wait <ms>          queues, workers: how long to listen for heartbeats (default: 1000).
  --timeout <ms>       How long to wait for the broker (default: 15000).
  --json               queues, workers: JSON instead of a table.
`;

/** What the commands run against, and where they write. */
export interface ControlCommandOptions {
  /** Use this transport (it is not closed); otherwise one is made from `--url` / `TASKQ_URL`. */
  readonly transport?: Transport;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdout?: (text: string) => void;
}

/** Runs one control-plane command; resolves with the exit code (2 on a usage error). */
export async function runControlCommand(
  command: ControlCommand,
  argv: readonly string[],
  options: ControlCommandOptions = {},
): Promise<number> {
  const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text));
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      prefix: { type: 'string' },
      wait: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    stdout(CONTROL_HELP);
    return 0;
  }
  const needsOne = command === 'pause' || command === 'resume' || command === 'cancel';
  if (needsOne && positionals.length !== 1) {
    stdout(`taskq ${command} needs exactly one ${command === 'cancel' ? 'task id' : 'queue name'}\n\n${CONTROL_HELP}`);
    return 2;
  }
  const wait = positiveInt(values.wait, 1_000, 'wait');
  const timeout = positiveInt(values.timeout, 15_000, 'timeout');
  const env = options.env ?? process.env;
  const transport =
    options.transport ??
    cliTransport(values.url ?? env.TASKQ_URL, values.prefix ?? (env.TASKQ_PREFIX || undefined), timeout);
  const queue = createQueue({ registry: new TaskRegistry(), transport });
  try {
    if (command === 'pause' || command === 'resume') {
      await (command === 'pause' ? queue.pause(positionals[0]) : queue.resume(positionals[0]));
      stdout(`${command === 'pause' ? 'paused' : 'resumed'} ${positionals[0]}\n`);
      return 0;
    }
    if (command === 'cancel') {
      await queue.cancel(positionals[0]);
      stdout(`sent the cancel of ${printable(positionals[0])} to every worker\n`);
      return 0;
    }
    const workers = await queue.workers({ wait });
    if (command === 'workers') {
      if (values.json) stdout(`${JSON.stringify(workers.map(workerJson), null, 2)}\n`);
      else stdout(table(['ID', 'HOST', 'PID', 'QUEUES', 'RUNNING', 'VERSION', 'STARTED'], workers.map(workerRow)));
      return 0;
    }
    const names = positionals.length > 0 ? positionals : [...new Set(workers.flatMap((w) => w.queues))].sort();
    const control = transport.control;
    if (!control) return 1; // createQueue's workers() above already refused a transport without one
    const rows = [];
    for (const name of names) {
      const [info, paused] = [await control.queueInfo(name), await control.isPaused(name)];
      const running = workers.filter((w) => w.queues.includes(name)).reduce((sum, w) => sum + w.running, 0);
      rows.push({ queue: name, depth: info.depth, consumers: info.consumers, paused, running });
    }
    if (values.json) stdout(`${JSON.stringify(rows, null, 2)}\n`);
    else
      stdout(
        table(
          ['QUEUE', 'DEPTH', 'CONSUMERS', 'PAUSED', 'RUNNING'],
          rows.map((r) => [r.queue, String(r.depth), String(r.consumers), r.paused ? 'yes' : 'no', String(r.running)]),
        ),
      );
    return 0;
  } finally {
    await queue.close();
    if (!options.transport) await transport.close();
  }
}

function positiveInt(value: string | undefined, fallback: number, option: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidOptionError(option, `expected a positive number of milliseconds, got ${JSON.stringify(value)}`);
  return n;
}

function workerJson(w: WorkerHeartbeat): Record<string, unknown> {
  return { ...w, startedAt: w.startedAt.toISOString() };
}

function workerRow(w: WorkerHeartbeat): string[] {
  return [
    w.id,
    w.host,
    String(w.pid),
    w.queues.join(','),
    `${w.running}/${w.concurrency}`,
    w.version,
    w.startedAt.toISOString(),
  ];
}
