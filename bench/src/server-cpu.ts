/**
 * CPU time used by the local broker (RabbitMQ's beam.smp, redis-server)
 * during a measurement, from /proc. On a shared 2-core machine wall-clock
 * rates swing with whatever else runs; CPU time per task is much steadier,
 * and it shows where a cost lands (client or server). Undefined where /proc
 * or the server process is not visible (another OS, a remote broker).
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on Linux (`getconf CLK_TCK`)

/** PostgreSQL runs one process per connection, all named `postgres`: their CPU is summed. */
export type ServerName = 'beam.smp' | 'redis-server' | 'postgres';

/**
 * `BENCH_SERVER_PIDS` (comma-separated) narrows the count to those processes: a broker node of the bench's own
 * (`BENCH_AMQP_URL` pointing at it) on a machine where other RabbitMQ nodes run too.
 */
const ONLY_PIDS = (process.env.BENCH_SERVER_PIDS ?? '')
  .split(',')
  .filter((pid) => /^\d+$/.test(pid))
  .map(Number);

function findPids(name: ServerName): number[] {
  if (name === 'beam.smp' && ONLY_PIDS.length > 0) return ONLY_PIDS;
  const pids: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) pids.push(Number(entry));
      } catch {
        // the process ended while we looked
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

/** user + system CPU of `pid`, in microseconds. */
function cpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Starts counting; the returned function gives the server CPU used since, in microseconds. */
export function startServerCpu(name: ServerName): () => number | undefined {
  const start = new Map<number, number>();
  for (const pid of findPids(name)) {
    const cpu = cpuMicros(pid);
    if (cpu !== undefined) start.set(pid, cpu);
  }
  if (start.size === 0) return () => undefined;
  return () => {
    // A process that started meanwhile (a new PostgreSQL backend) counts whole; one that ended is lost.
    let total = 0;
    let seen = false;
    for (const pid of findPids(name)) {
      const end = cpuMicros(pid);
      if (end === undefined) continue;
      total += end - (start.get(pid) ?? 0);
      seen = true;
    }
    return seen ? total : undefined;
  };
}
