/** Plain-text tables that paste cleanly into a Markdown README. */
import type { Summary } from './stats.js';

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function format(value: number, digits: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(digits);
}

/** "21,034 (20,120–21,900)"; a single run shows no range; "–" when nothing was measured. */
export function cell(summary: Summary | undefined, digits = 0): string {
  if (!summary) return '–';
  const mid = format(summary.median, digits);
  if (summary.n < 2) return mid;
  return `${mid} (${format(summary.min, digits)}–${format(summary.max, digits)})`;
}
