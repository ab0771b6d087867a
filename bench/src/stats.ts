/** Small, dependency-free statistics for the table. */

/** Linear-interpolated percentile (p in 0..100) of an unsorted list; NaN for an empty one. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/** Median with the spread over runs; what one table cell shows. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many runs produced a value (failed runs are left out). */
  readonly n: number;
}

/** Summarises the finite values; undefined when no run produced one. */
export function summarize(values: readonly (number | undefined)[]): Summary | undefined {
  const ok = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (ok.length === 0) return undefined;
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok), n: ok.length };
}

/** Tasks per second for `count` tasks over [startMs, endMs]. */
export function rate(count: number, startMs: number, endMs: number): number {
  const seconds = (endMs - startMs) / 1000;
  return seconds > 0 ? count / seconds : Number.NaN;
}
