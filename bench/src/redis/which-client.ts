/**
 * Whether ioredis is installed. BullMQ 6 ships without a Redis client; when
 * ioredis is there the bench uses it (what BullMQ users run), otherwise the
 * bench's own RESP adapter (bench-redis-client.ts). The table names the one used.
 */
export function ioredisInstalled(): boolean {
  try {
    import.meta.resolve('ioredis');
    return true;
  } catch {
    return false;
  }
}

export function bullmqClientName(): string {
  return ioredisInstalled() ? 'ioredis' : 'bench RESP client (ioredis not installed)';
}
