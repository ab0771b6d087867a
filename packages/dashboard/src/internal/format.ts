/** A time as UTC text; the page's script shows it in the reader's time zone. */
export function timeText(at: Date | number | undefined): string {
  if (at === undefined) return '';
  const date = typeof at === 'number' ? new Date(at) : at;
  return Number.isNaN(date.getTime()) ? '' : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A duration in the unit that reads best. */
export function durationText(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A count with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Progress as a short text: `40%` or the object as JSON. */
export function progressText(progress: unknown): string {
  if (progress === undefined || progress === null) return '';
  return typeof progress === 'number' ? `${Math.round(progress * 10) / 10}%` : JSON.stringify(progress);
}
