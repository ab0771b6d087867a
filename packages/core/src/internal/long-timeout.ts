/**
 * Longest delay `setTimeout` honours; a longer one (or a non-finite one) fires after 1 ms, with a
 * TimeoutOverflowWarning.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `setTimeout` for any finite delay: one longer than {@link MAX_TIMER_MS}
 * (about 24.8 days) waits in steps of at most that, so it fires when due
 * instead of at once. Counts the steps rather than reading the clock, so it
 * never fires early. Returns the function that cancels it.
 */
export function longTimeout(fn: () => void, ms: number): () => void {
  let remaining = ms;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const step = Math.min(remaining, MAX_TIMER_MS);
    remaining -= step;
    timer = setTimeout(remaining > 0 ? arm : fn, step);
  };
  arm();
  return () => clearTimeout(timer);
}
