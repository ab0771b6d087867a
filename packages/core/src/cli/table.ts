import { printable } from './dead.js';

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
