/** A tool's numeric flag, checked once: a positive integer, or an error that names the flag and what it got. */
export function positiveInteger(flag: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} takes a positive integer, got ${raw}`);
  return value;
}
