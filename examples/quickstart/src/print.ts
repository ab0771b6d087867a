/** Prints one line of the demo's story: who is speaking, then what happened. */
export function say(who: 'demo' | 'web' | 'worker' | 'log', text: string): void {
  console.log(`${who.padEnd(10)} ${text}`);
}

/** The last 8 characters of a task id (the random part of the UUIDv7), to match lines up. */
export function shortId(id: string): string {
  return `…${id.slice(-8)}`;
}

/** A task's result or error for one line of output. */
export function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
