/**
 * CPU time used by the local broker (RabbitMQ's beam.smp, redis-server)
 * during a measurement, from /proc. On a shared 2-core machine wall-clock
 * rates swing with whatever else runs; CPU time per task is much steadier,
 * and it shows where a cost lands (client or server). Undefined where /proc
 * or the server process is not visible (another OS, a remote broker).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { AMQP_URL } from './config.js';

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

/** Socket inodes listening on TCP `port` (IPv4 or IPv6), from /proc/net. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address, rem_address, st (0A = LISTEN), ..., inode is field 9.
      if (fields[1]?.endsWith(hexPort) && fields[3] === '0A' && fields[9]) inodes.add(fields[9]);
    }
  }
  return inodes;
}

/** Whether process `pid` holds one of these socket inodes. */
function holdsSocket(pid: number, inodes: ReadonlySet<string>): boolean {
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (match?.[1] && inodes.has(match[1])) return true;
      } catch {
        // the descriptor closed while we looked
      }
    }
  } catch {
    // the process ended, or its descriptors are not ours to read
  }
  return false;
}

/**
 * The RabbitMQ nodes (beam.smp) that listen on these AMQP ports. Other nodes
 * may run on the machine (the fault tests' throw-away brokers, the bench's own
 * cluster): counting them would charge their work to the measured broker.
 * Falls back to every beam.smp when no listener is found (no /proc/net, a broker
 * in a container).
 */
export function brokerPids(ports: readonly number[]): number[] {
  const all = findPids('beam.smp');
  const inodes = new Set(ports.flatMap((port) => [...listeningInodes(port)]));
  const found = inodes.size > 0 ? all.filter((pid) => holdsSocket(pid, inodes)) : [];
  return found.length > 0 ? found : all;
}

/**
 * Every node of the measured broker when it is a cluster (BENCH_BROKER_PORTS=5672,5673,5674, set by
 * tools/own-broker.js --nodes 3): their CPU is counted together, as replication work lands on all of them.
 */
const BROKER_PORTS = process.env.BENCH_BROKER_PORTS?.split(',')
  .map(Number)
  .filter((port) => port > 0);

/** The AMQP port of a URL (5672 when it names none). */
export function amqpPort(url: string): number {
  const port = Number(new URL(url).port);
  return port > 0 ? port : 5672;
}

/**
 * Starts counting; the returned function gives the server CPU used since, in microseconds.
 * `beam.smp` means the broker of BENCH_AMQP_URL (every node in BENCH_BROKER_PORTS) unless `pids` names the processes;
 * the processes in `exclude` are left out (PostgreSQL backends of other clients of a shared server).
 */
export function startServerCpu(
  name: ServerName,
  pids?: readonly number[],
): (exclude?: ReadonlySet<number>) => number | undefined {
  const chosen = (): number[] => {
    if (pids) return [...pids];
    if (name === 'beam.smp') return brokerPids(BROKER_PORTS ?? [amqpPort(AMQP_URL)]);
    return findPids(name);
  };
  const start = new Map<number, number>();
  for (const pid of chosen()) {
    const cpu = cpuMicros(pid);
    if (cpu !== undefined) start.set(pid, cpu);
  }
  if (start.size === 0) return () => undefined;
  return (exclude) => {
    // A process that started meanwhile (a new PostgreSQL backend) counts whole; one that ended is lost.
    let total = 0;
    let seen = false;
    for (const pid of pids ?? (name === 'beam.smp' ? [...start.keys()] : findPids(name))) {
      if (exclude?.has(pid)) continue;
      const end = cpuMicros(pid);
      if (end === undefined) continue;
      total += end - (start.get(pid) ?? 0);
      seen = true;
    }
    return seen ? total : undefined;
  };
}

/** Busy and total time of all CPUs since boot, in ticks (/proc/stat's first line); undefined without /proc. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    // cpu user nice system idle iowait irq softirq steal ...
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/**
 * Starts counting; the returned function gives the share of the machine's CPU
 * time (all cores) that was busy since, 0..1: whatever ran, the bench or not.
 */
export function startMachineCpu(): () => number | undefined {
  const start = machineTicks();
  return () => {
    const end = machineTicks();
    if (!start || !end || end.total <= start.total) return undefined;
    return (end.busy - start.busy) / (end.total - start.total);
  };
}
