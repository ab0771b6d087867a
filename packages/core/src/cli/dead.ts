import { parseArgs } from 'node:util';
import { InvalidOptionError } from '../errors.js';
import type { DeadLetterRecord, Transport } from '../transport.js';
import { DEAD_BODY_PREFIX_BYTES } from '../internal/dead-letter.js';
import { cliTransport, printable } from './terminal.js';

/** Help text of `taskq dead`. */
export const DEAD_HELP = `taskq dead — the dead-letter queue

Usage:
  taskq dead list [--limit <n>] [--json]   The oldest dead letters (default 100), oldest first:
                                           id, when, reason, task, queue, attempts, last error.
  taskq dead retry <id> [<id> ...]         Send these back to their queue as a first attempt.
  taskq dead retry --all                   Send every dead letter back.
  taskq dead purge                         Delete every dead letter.

Options:
  --url <amqp-url>     Broker (default: $TASKQ_URL). The password is never printed.
  --prefix <prefix>    Prefix of the queues (default: $TASKQ_PREFIX, else taskq).
  --timeout <ms>       How long to wait for the broker (default: 15000).
  --json               list: one JSON object per line, with the error stack and the body.

A body over the worker's payload limit is kept as its first ${DEAD_BODY_PREFIX_BYTES} bytes and its size;
retry leaves such a letter in place.
`;

/** Where `taskq dead` writes, and what it runs against. */
export interface DeadCommandOptions {
  /** Use this transport (it is not closed); otherwise one is made from `--url` / `TASKQ_URL`. */
  readonly transport?: Transport;
  /** @defaultValue `process.env` */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @defaultValue `process.stdout.write` */
  readonly stdout?: (text: string) => void;
}

const MAX_BODY_CHARS = 4_000;

/**
 * `taskq dead list|retry|purge`. Resolves with the exit code: 0 on success,
 * 1 when `retry` found none of the ids, 2 on a usage error.
 */
export async function runDeadCommand(argv: readonly string[], options: DeadCommandOptions = {}): Promise<number> {
  const stdout = options.stdout ?? ((text: string) => void process.stdout.write(text));
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      prefix: { type: 'string' },
      limit: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [action, ...ids] = positionals;
  if (values.help || action === undefined || action === 'help') {
    stdout(DEAD_HELP);
    return values.help || action === 'help' ? 0 : 2;
  }
  if (action !== 'list' && action !== 'retry' && action !== 'purge')
    throw new InvalidOptionError(
      'dead',
      `unknown action ${JSON.stringify(action)}; expected list, retry or purge (see taskq dead --help)`,
    );
  if (action === 'retry' && (values.all ? ids.length > 0 : ids.length === 0))
    throw new InvalidOptionError('retry', 'give one or more ids, or --all (not both)');
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1)
    throw new InvalidOptionError('limit', `expected a positive integer, got ${JSON.stringify(values.limit)}`);

  const timeout = values.timeout === undefined ? 15_000 : Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout < 1)
    throw new InvalidOptionError(
      'timeout',
      `expected a positive number of milliseconds, got ${JSON.stringify(values.timeout)}`,
    );
  const env = options.env ?? process.env;
  const transport =
    options.transport ??
    cliTransport(values.url ?? env.TASKQ_URL, values.prefix ?? (env.TASKQ_PREFIX || undefined), timeout);
  try {
    if (action === 'list') {
      const [records, total] = [await transport.dead.list(limit), await transport.dead.count()];
      for (const record of records)
        stdout(`${values.json ? printable(JSON.stringify(toJson(record))) : formatLine(record)}\n`);
      if (!values.json) stdout(`${records.length} of ${total} dead letter(s) shown\n`);
      return 0;
    }
    if (action === 'purge') {
      stdout(`purged ${await transport.dead.purge()} dead letter(s)\n`);
      return 0;
    }
    if (values.all) {
      stdout(`sent ${await transport.dead.retry('all')} dead letter(s) back to their queues\n`);
      return 0;
    }
    let missing = 0;
    for (const id of ids) {
      if ((await transport.dead.retry(id)) > 0) stdout(`sent ${printable(id)} back to its queue\n`);
      else {
        missing++;
        stdout(`no dead letter with id ${printable(id)}\n`);
      }
    }
    return missing === ids.length ? 1 : 0;
  } finally {
    if (!options.transport) await transport.close();
  }
}

function formatLine(record: DeadLetterRecord): string {
  const fields = [
    record.id || '(no id)',
    record.deadAt?.toISOString() ?? '-',
    record.reason,
    record.task ?? '-',
    `queue=${record.queue ?? '-'}`,
    `attempts=${record.attempts ?? '-'}`,
  ];
  if (record.retries > 0) fields.push(`retried=${record.retries}`);
  if (record.truncated) fields.push(`body=${record.bodyBytes} bytes (prefix kept)`);
  if (record.error !== undefined) fields.push(`error=${JSON.stringify(record.error.split('\n')[0])}`);
  return printable(fields.join('  '));
}

function toJson(record: DeadLetterRecord): Record<string, unknown> {
  const body = record.body.toString('utf8');
  return {
    id: record.id,
    queue: record.queue,
    task: record.task,
    reason: record.reason,
    error: record.error,
    errorStack: record.errorStack,
    attempts: record.attempts,
    deadAt: record.deadAt?.toISOString(),
    submittedAt: record.submittedAt?.toISOString(),
    retries: record.retries,
    bodyBytes: record.bodyBytes,
    truncated: record.truncated,
    body: body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS)}…` : body,
  };
}
