/** Windows looked through, newest first, for the latest ticks of a range: a long outage costs few steps. */
const WINDOWS_MS = [60_000, 3_600_000, 86_400_000, 35 * 86_400_000, 400 * 86_400_000, 11 * 366 * 86_400_000];

/**
 * The latest `max` ticks in (`lo`, `hi`] and how many earlier ones were passed over. Looks at growing windows
 * before `hi`, so finding the last tick after a month's outage of a per-second cron takes seconds' worth of steps,
 * not a month's.
 */
export function latestTicks(
  nextAfter: (after: number) => number | undefined,
  lo: number,
  hi: number,
  max: number,
): { ticks: number[]; passed: number } {
  if (max <= 0 || hi <= lo) return { ticks: [], passed: 0 };
  for (const window of [...WINDOWS_MS, Number.POSITIVE_INFINITY]) {
    const start = Math.max(lo, hi - window);
    const ticks: number[] = [];
    let count = 0;
    for (let t = nextAfter(start); t !== undefined && t <= hi; t = nextAfter(t)) {
      count++;
      ticks.push(t);
      if (ticks.length > max) ticks.shift();
    }
    // Enough ticks in this window, or the window reaches back to `lo`: nothing older is needed.
    if (ticks.length >= max || start === lo) return { ticks, passed: count - ticks.length };
  }
  return { ticks: [], passed: 0 };
}

/** How far {@link lastTick} looks back. */
const LAST_TICK_LOOKBACK_MS = 11 * 366 * 86_400_000;

/** The latest tick at or before `at`, or undefined when there is none in the eleven years before it. */
export function lastTick(nextAfter: (after: number) => number | undefined, at: number): number | undefined {
  return latestTicks(nextAfter, at - LAST_TICK_LOOKBACK_MS, at, 1).ticks[0];
}

/**
 * The ticks to handle when a scheduler becomes active (or wakes), split by whether a scheduler was known to run
 * then. `mark`: the last tick handled (undefined: none known, nothing is caught up). Ticks before `aliveSince`
 * (when this scheduler started) were missed while, as far as it knows, none ran: the schedule's `catchUp` picks
 * among them. Ticks since then were missed while this one ran (a leader died, the process stalled): all of them run,
 * up to `maxDue` (the latest).
 */
export function dueTicks(
  resolved: {
    readonly nextAfter: (after: number) => number | undefined;
    readonly catchUp: { readonly withinMs: number; readonly max: number };
  },
  mark: number | undefined,
  aliveSince: number,
  now: number,
  maxDue: number,
): { catchUp: number[]; alive: number[]; dropped: number } {
  const { nextAfter, catchUp: policy } = resolved;
  // A tick exactly at the start counts as one this scheduler was alive for.
  const startedBefore = aliveSince - 1;
  let catchUp: number[] = [];
  if (mark !== undefined && mark < startedBefore) {
    const lo = Math.max(mark, startedBefore - policy.withinMs);
    catchUp = latestTicks(nextAfter, lo, startedBefore, policy.max).ticks;
  }
  const from = mark === undefined ? startedBefore : Math.max(mark, startedBefore);
  const { ticks: alive, passed } = latestTicks(nextAfter, from, now, maxDue);
  return { catchUp, alive, dropped: passed };
}
