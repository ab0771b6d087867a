// Checks shared by the rate-limit and per-key tests on both transports: they read recorded start and end times.

/** The most starts found in any window of `perMs` (a start at t counts in [t, t + perMs)). */
export function maxInWindow(starts: readonly number[], perMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= perMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

/** One run of a keyed task: its key, its submit order within the key, and when it ran. */
export interface KeyedRun {
  readonly key: string;
  readonly seq: number;
  readonly start: number;
  readonly end: number;
}

/** The most runs of one key that overlapped in time, over all keys. */
export function maxOverlapPerKey(runs: readonly KeyedRun[]): number {
  let most = 0;
  const byKey = new Map<string, KeyedRun[]>();
  for (const run of runs) byKey.set(run.key, [...(byKey.get(run.key) ?? []), run]);
  for (const list of byKey.values()) {
    const events = list.flatMap((r) => [
      { t: r.start, d: 1 },
      { t: r.end, d: -1 },
    ]);
    // An end at the same instant as a start comes first: back-to-back runs do not overlap.
    events.sort((a, b) => a.t - b.t || a.d - b.d);
    let open = 0;
    for (const e of events) {
      open += e.d;
      most = Math.max(most, open);
    }
  }
  return most;
}

/** For each key, the submit order numbers in the order the runs started. */
export function startOrderPerKey(runs: readonly KeyedRun[]): Map<string, number[]> {
  const order = new Map<string, number[]>();
  for (const run of [...runs].sort((a, b) => a.start - b.start))
    order.set(run.key, [...(order.get(run.key) ?? []), run.seq]);
  return order;
}
