import { createQueue, createWorker, errorCode, type Logger, type Transport } from '../../src/index.js';
import { registry, work } from '../fixtures/fault/tasks.js';

/** A logger that keeps every line with its time, so a test can see when a connection loss was noticed. */
export class CapturingLogger implements Logger {
  readonly lines: Array<{ at: number; level: string; message: string; fields?: Record<string, unknown> }> = [];
  debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ at: Date.now(), level: 'debug', message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ at: Date.now(), level: 'info', message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ at: Date.now(), level: 'warn', message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ at: Date.now(), level: 'error', message, fields });
  }
  /** Time of the first line matching `pattern` at or after `since`. */
  first(pattern: RegExp, since = 0): number | undefined {
    return this.lines.find((line) => line.at >= since && pattern.test(line.message))?.at;
  }
}

export interface LoadOptions {
  readonly total: number;
  /** Submits in flight at once. */
  readonly parallel: number;
  /**
   * Pause of each submitting lane between two submits, so the load lasts long enough for a fault to strike mid-stream.
   */
  readonly paceMs?: number;
  /** Makes the transport of the submitting side and of the worker (two processes' worth of connections). */
  readonly transports: () => { submitter: Transport; consumer: Transport };
  readonly queueName: string;
  /** Runs once, when this many submits have been confirmed; the load goes on meanwhile. */
  readonly faultAt: number;
  readonly fault: () => Promise<void>;
  /** How long to wait, after the last submit settled, for every confirmed task to run. */
  readonly drainTimeoutMs: number;
}

/** Jepsen-style counts over task numbers for one fault. */
export interface LoadCounts {
  submitted: number;
  confirmed: number;
  rejected: number;
  completed: number;
  lost: number;
  duplicates: number;
  /** Rejected submits whose task ran anyway (allowed: the broker had it, the confirm was lost). */
  ranThoughRejected: number;
  rejectionCodes: Record<string, number>;
  /** Submits confirmed when the fault started and when it was over: proof that it struck mid-stream. */
  confirmedAtFault: [number, number];
}

export function formatCounts(label: string, c: LoadCounts): string {
  const codes =
    Object.entries(c.rejectionCodes)
      .map(([code, n]) => `${code}:${n}`)
      .join(',') || '-';
  return `[${label}] submitted=${c.submitted} confirmed=${c.confirmed} rejected=${c.rejected} (${codes}) completed=${c.completed} lost=${c.lost} duplicates=${c.duplicates} ran-though-rejected=${c.ranThoughRejected} fault-struck-between-confirmed=${c.confirmedAtFault.join('..')}`;
}

/**
 * Submits `total` tasks while a worker consumes them, injects the fault part
 * way through, then waits for every confirmed task to have run. A task is
 * counted by its argument n: confirmed when its submit resolved, rejected
 * when it rejected, completed when the worker reported it done.
 */
export async function runLoad(options: LoadOptions): Promise<LoadCounts> {
  const { submitter, consumer } = options.transports();
  const queue = createQueue({ registry, transport: submitter, defaults: { queue: options.queueName } });
  const worker = createWorker({
    registry,
    transport: consumer,
    queues: [options.queueName],
    concurrency: 50,
    logger: silent,
  });
  const runs = new Map<number, number>();
  worker.on('completed', (event) => {
    const n = event.result as number;
    runs.set(n, (runs.get(n) ?? 0) + 1);
  });
  const confirmed = new Set<number>();
  const rejected = new Set<number>();
  const rejectionCodes: Record<string, number> = {};
  let faulted: Promise<void> | undefined;
  const confirmedAtFault: [number, number] = [0, 0];
  try {
    await worker.start();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < options.total) {
        const n = next++;
        try {
          await queue.submit(work, n);
          confirmed.add(n);
        } catch (error) {
          rejected.add(n);
          const code = errorCode(error) ?? 'other';
          rejectionCodes[code] = (rejectionCodes[code] ?? 0) + 1;
        }
        if (options.paceMs) await new Promise((resolve) => setTimeout(resolve, options.paceMs));
        if (!faulted && confirmed.size >= options.faultAt) {
          confirmedAtFault[0] = confirmed.size;
          faulted = options.fault().then(() => {
            confirmedAtFault[1] = confirmed.size;
          });
        }
      }
    };
    await Promise.all(Array.from({ length: options.parallel }, lane));
    await faulted;
    const deadline = Date.now() + options.drainTimeoutMs;
    while ([...confirmed].some((n) => !runs.has(n)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    // Let stragglers (redeliveries) arrive, so duplicates are counted.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  } finally {
    await worker.stop({ timeout: 5_000 });
    await queue.close();
  }
  return {
    submitted: options.total,
    confirmed: confirmed.size,
    rejected: rejected.size,
    completed: runs.size,
    lost: [...confirmed].filter((n) => !runs.has(n)).length,
    duplicates: [...runs.values()].filter((count) => count > 1).length,
    ranThoughRejected: [...rejected].filter((n) => runs.has(n)).length,
    rejectionCodes,
    confirmedAtFault,
  };
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
