#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { errorCode } from '../errors.js';
import { runDeadCommand } from './dead.js';
import { CONTROL_COMMANDS, type ControlCommand, runControlCommand } from './control-commands.js';
import { runSchedulesCommand } from './schedules-command.js';
import { runTasksCommand } from './tasks-command.js';
import { runWorkerCommand } from './worker-command.js';

const HELP = `taskq — task queue for TypeScript web backends

Usage:
  taskq worker <module> [options]   Run the worker that <module> exports (a worker,
                                    or a function returning one): ESM
                                    \`export default\`, CommonJS \`module.exports\`
                                    or \`exports.default\`. A .ts module runs
                                    through tsx when it is installed.
  taskq dead list|retry|purge       The dead-letter queue (taskq dead --help).
  taskq queues | workers            Queue depths, consumers, pauses; the live workers.
  taskq pause|resume <queue>        Stop / restart starting a queue's tasks.
  taskq cancel <id>                 Abort a running task (taskq queues --help).
  taskq tasks list|show             The task index of your result store (taskq tasks --help).
  taskq schedules <module>[#export] The schedules a module exports and their next
                                    run times (taskq schedules --help).
  taskq --help | --version

Worker options:
  -c, --concurrency <n>     Most tasks at once (also the broker prefetch).
  -q, --queues <a,b,...>    Queues to consume, comma-separated.
  --shutdown-timeout <ms>   How long SIGINT/SIGTERM waits for in-flight tasks
                            (default 30000). A second signal exits at once.
  --prefix <prefix>         Prefix the module's transport must use (default:
                            $TASKQ_PREFIX); set as TASKQ_PREFIX for the module.
  --log-level <level>       debug, info (default: every task), warn or error.
  --schedules <module>[#export]
                            Also run the scheduler that module exports (or a
                            function returning one) in this process; it stops
                            before the worker drains.

--concurrency and --queues are passed to the module's factory function:
  export default (options) => createWorker({ registry, transport, ...options });

Environment (read by every command; taskq worker passes them to your module):
  TASKQ_URL                 Broker URL (amqp://user:password@host:5672); the
                            password is never printed.
  TASKQ_PREFIX              Prefix of the queues: one per application on a
                            shared broker. taskq worker refuses a module whose
                            transport uses another one:
                              amqp({ url: process.env.TASKQ_URL,
                                     prefix: process.env.TASKQ_PREFIX })

Examples:
  npx taskq worker ./dist/worker.js
  npx taskq worker ./dist/worker.js --concurrency 32 --queues mail,reports
`;

function parseQueues(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const queues = value
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  if (queues.length === 0) throw new Error('--queues needs at least one queue name');
  return queues;
}

function parsePositiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} expects a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

function parseLogLevel(value: string | undefined): (typeof LOG_LEVELS)[number] | undefined {
  if (value === undefined) return undefined;
  const level = LOG_LEVELS.find((l) => l === value);
  if (level === undefined)
    throw new Error(`--log-level expects one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  return level;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command === undefined ? 1 : 0;
  }
  if (command === '--version' || command === '-v') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  if (command === 'worker') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        concurrency: { type: 'string', short: 'c' },
        queues: { type: 'string', short: 'q' },
        'shutdown-timeout': { type: 'string' },
        prefix: { type: 'string' },
        'log-level': { type: 'string' },
        schedules: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length !== 1)
      throw new Error('taskq worker needs exactly one module path, e.g. taskq worker ./dist/worker.js');
    return runWorkerCommand({
      module: positionals[0],
      concurrency: parsePositiveInt(values.concurrency, '--concurrency'),
      queues: parseQueues(values.queues),
      shutdownTimeout: parsePositiveInt(values['shutdown-timeout'], '--shutdown-timeout') ?? 30_000,
      prefix: values.prefix ?? (process.env.TASKQ_PREFIX || undefined),
      logLevel: parseLogLevel(values['log-level']),
      schedules: values.schedules,
    });
  }
  if (command === 'dead') return runDeadCommand(rest);
  if (command === 'tasks') return runTasksCommand(rest);
  if (command === 'schedules') return runSchedulesCommand(rest);
  if ((CONTROL_COMMANDS as readonly string[]).includes(command))
    return runControlCommand(command as ControlCommand, rest);
  throw new Error(`unknown command ${JSON.stringify(command)}; see taskq --help`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const code = errorCode(error);
    process.stderr.write(
      `taskq: ${error instanceof Error ? error.message : String(error)}${code ? ` (${code})` : ''}\n`,
    );
    process.exit(1);
  },
);
