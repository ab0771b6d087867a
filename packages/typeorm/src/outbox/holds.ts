import type { DataSource } from 'typeorm';

/**
 * Outbox rows this process is publishing itself after their commit, per
 * DataSource: its own relay's sweep leaves them alone, whatever its
 * `minAge`, so a row is never published by the committing code and a sweep
 * of the same process. Each hold has an end: a commit whose outcome never
 * came back (the connection died during the COMMIT) must not keep its rows
 * from the sweep for ever.
 */
const holds = new WeakMap<DataSource, Map<string, number>>();

/** Holds `ids` until `until` (epoch ms; `Infinity` while the committing code is publishing them). */
export function hold(dataSource: DataSource, ids: readonly string[], until: number): void {
  let held = holds.get(dataSource);
  if (!held) {
    held = new Map();
    holds.set(dataSource, held);
  }
  for (const id of ids) held.set(id, until);
}

export function release(dataSource: DataSource, ids: readonly string[]): void {
  const held = holds.get(dataSource);
  if (!held) return;
  for (const id of ids) held.delete(id);
}

/** True while the committing code of this process holds the row. */
export function isHeld(dataSource: DataSource, id: string, now: number): boolean {
  const held = holds.get(dataSource);
  const until = held?.get(id);
  if (until === undefined) return false;
  if (until > now) return true;
  held?.delete(id);
  return false;
}
