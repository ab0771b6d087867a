import { InvalidOptionError } from '../errors.js';
import { consoleLogger } from '../logger.js';
import type { Transport } from '../transport.js';
import { amqp } from '../transports/amqp/amqp-transport.js';

/**
 * What goes to the operator's terminal holds whatever someone put on the broker or in the store: control characters
 * (terminal escape sequences) are shown escaped, never written raw.
 */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A plain text table: columns padded to their widest cell, every cell escaped for the terminal. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows.map((row) => row.map(printable))];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const lines = all.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  );
  return `${lines.join('\n')}\n`;
}

/** The broker transport of a CLI command, from `--url` / `TASKQ_URL` and `--prefix` / `TASKQ_PREFIX`. */
export function cliTransport(url: string | undefined, prefix: string | undefined, timeoutMs: number): Transport {
  if (!url) throw new InvalidOptionError('url', 'give the broker URL with --url or the TASKQ_URL environment variable');
  // Connection trouble is reported once, as the command's error; retry warnings would only repeat it.
  return amqp({ url, prefix, logger: consoleLogger('error'), connectTimeout: timeoutMs, publishTimeout: timeoutMs });
}
