import { createHash } from 'node:crypto';

/**
 * The task id of one tick of a schedule: the same for every scheduler that computes it, so a second submit of a
 * tick is the same task, recognisable as a duplicate. Shaped as a UUIDv7 whose timestamp is the tick time (ids keep
 * sorting by time in the task index) and whose other bits come from a SHA-256 of the schedule id and the tick.
 */
export function tickId(scheduleId: string, tick: number): string {
  const b = createHash('sha256').update(`taskq-schedule\0${scheduleId}\0${tick}`).digest();
  b[0] = Math.floor(tick / 2 ** 40) & 0xff;
  b[1] = Math.floor(tick / 2 ** 32) & 0xff;
  b[2] = (tick >>> 24) & 0xff;
  b[3] = (tick >>> 16) & 0xff;
  b[4] = (tick >>> 8) & 0xff;
  b[5] = tick & 0xff;
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const hex = b.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
