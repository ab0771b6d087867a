import type { ScheduleMark } from './claims.js';

/** Marks of schedules that no scheduler runs any more are forgotten this long after their last tick. */
const FORGET_AFTER_MS = 35 * 86_400_000;
const MAX_STATE_BYTES = 4_194_304;

/**
 * The leader's record of the schedules' past, as JSON: `{ taskq: 'schedules', v: 1, at, marks: { id: mark } }`. It
 * keeps the marks of schedules this scheduler does not run (another version of the code may run them) until they
 * are old.
 */
export function encodeMarks(marks: ReadonlyMap<string, ScheduleMark>, now: number): Buffer {
  const out: Record<string, ScheduleMark> = {};
  for (const [id, mark] of marks) if (now - mark.tick < FORGET_AFTER_MS) out[id] = mark;
  return Buffer.from(JSON.stringify({ taskq: 'schedules', v: 1, at: now, marks: out }), 'utf8');
}

/** Reads {@link encodeMarks}' output; anything else (or nothing) is no knowledge. */
export function decodeMarks(body: Buffer | undefined): Map<string, ScheduleMark> {
  const marks = new Map<string, ScheduleMark>();
  if (!body || body.length > MAX_STATE_BYTES) return marks;
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return marks;
  }
  if (typeof raw !== 'object' || raw === null) return marks;
  const { taskq, v, marks: entries } = raw as { taskq?: unknown; v?: unknown; marks?: unknown };
  if (taskq !== 'schedules' || v !== 1 || typeof entries !== 'object' || entries === null) return marks;
  for (const [id, value] of Object.entries(entries)) {
    if (typeof value !== 'object' || value === null) continue;
    const { tick, fired, spec } = value as Record<string, unknown>;
    if (!Number.isSafeInteger(tick) || typeof spec !== 'string') continue;
    if (fired !== undefined && !Number.isSafeInteger(fired)) continue;
    marks.set(id, { tick: tick as number, spec, ...(fired === undefined ? {} : { fired: fired as number }) });
  }
  return marks;
}
