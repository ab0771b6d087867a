import { createWorker, errorCode, silentLogger, type TaskQueue, type Transport, type Worker } from '../../src/index.js';
import { registry, work } from '../fixtures/fault/tasks.js';
import type { CapturingLogger, LoadCounts } from './load.js';

/** Counts of a load against a cluster: {@link LoadCounts} plus how long submits took. */
export interface ClusterCounts extends LoadCounts {
  /** The longest any submit took to settle (resolved or rejected). */
  maxSubmitMs: number;
  /** The longest a rejected submit took (0 when none was rejected). */
  maxErrorMs: number;
  /** When the first and the last rejected submit settled, in ms after the fault started (empty: none rejected). */
  errorWindowMs: number[];
}

export function formatClusterCounts(label: string, c: ClusterCounts): string {
  const codes =
    Object.entries(c.rejectionCodes)
      .map(([code, n]) => `${code}:${n}`)
      .join(',') || '-';
  return `[${label}] submitted=${c.submitted} confirmed=${c.confirmed} rejected=${c.rejected} (${codes}) completed=${c.completed} lost=${c.lost} duplicates=${c.duplicates} ran-though-rejected=${c.ranThoughRejected} fault-struck-between-confirmed=${c.confirmedAtFault.join('..')} max-submit-ms=${c.maxSubmitMs} max-error-ms=${c.maxErrorMs} errors-between-ms=${c.errorWindowMs.join('..') || '-'}`;
}

/** Workers that count each `work(n)` they complete into one map (n → runs). */
export class CountingWorkers {
  readonly runs = new Map<number, number>();
  /** n → when it first completed. */
  readonly firstAt = new Map<number, number>();
  readonly workers: Worker[] = [];

  async start(queueName: string, transports: readonly Transport[]): Promise<void> {
    for (const transport of transports) {
      const worker = createWorker({ registry, transport, queues: [queueName], concurrency: 50, logger: silentLogger });
      worker.on('completed', (event) => {
        if (event.name !== 'fault.work') return;
        const n = event.result as number;
        this.runs.set(n, (this.runs.get(n) ?? 0) + 1);
        if (!this.firstAt.has(n)) this.firstAt.set(n, Date.now());
      });
      this.workers.push(worker);
      // One after the other: the first one declares the queues, on the node it is connected to.
      await worker.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((worker) => worker.stop({ timeout: 5_000 })));
  }
}

export interface ClusterLoadOptions {
  /** Submitting queues; lane i submits through producers[i % producers.length]. */
  readonly producers: readonly TaskQueue[];
  readonly total: number;
  /** Lanes (submits in flight at once) over all producers. */
  readonly parallel: number;
  readonly paceMs?: number;
  /** Runs once, when this many submits have been confirmed; the load goes on meanwhile. */
  readonly faultAt: number;
  readonly fault: () => Promise<void>;
  /**
   * Keeps submitting, past `total` if need be, until this long after the fault is over: for a fault that must happen
   * wholly under load however fast the submits go (a rolling restart of every node).
   */
  readonly throughFaultMs?: number;
  /** n → runs, filled by the workers. */
  readonly runs: ReadonlyMap<number, number>;
  readonly drainTimeoutMs: number;
}

/**
 * Submits work(0..total-1) through several producers while the workers run them, strikes the fault part way, waits for
 * the fault to be over and every confirmed task to have run. Counted by task argument, as in runLoad.
 */
export async function runClusterLoad(options: ClusterLoadOptions): Promise<ClusterCounts> {
  const confirmed = new Set<number>();
  const rejected = new Set<number>();
  const rejectionCodes: Record<string, number> = {};
  const confirmedAtFault: [number, number] = [0, 0];
  let faulted: Promise<void> | undefined;
  let maxSubmitMs = 0;
  let maxErrorMs = 0;
  let faultStartedAt = 0;
  const errorTimes: number[] = [];
  let next = 0;
  let loadUntil = Number.POSITIVE_INFINITY;
  const more = (): boolean =>
    next < options.total || (options.throughFaultMs !== undefined && faulted !== undefined && Date.now() < loadUntil);
  const lane = async (producer: TaskQueue): Promise<void> => {
    while (more()) {
      const n = next++;
      const started = Date.now();
      try {
        await producer.submit(work, n);
        confirmed.add(n);
      } catch (error) {
        rejected.add(n);
        maxErrorMs = Math.max(maxErrorMs, Date.now() - started);
        errorTimes.push(Date.now());
        const code = errorCode(error) ?? 'other';
        rejectionCodes[code] = (rejectionCodes[code] ?? 0) + 1;
      }
      maxSubmitMs = Math.max(maxSubmitMs, Date.now() - started);
      if (options.paceMs) await new Promise((resolve) => setTimeout(resolve, options.paceMs));
      if (!faulted && confirmed.size >= options.faultAt) {
        confirmedAtFault[0] = confirmed.size;
        faultStartedAt = Date.now();
        faulted = options.fault().then(() => {
          confirmedAtFault[1] = confirmed.size;
          loadUntil = Date.now() + (options.throughFaultMs ?? 0);
        });
      }
    }
  };
  await Promise.all(
    Array.from({ length: options.parallel }, (_, i) => lane(options.producers[i % options.producers.length])),
  );
  await faulted;
  const runs = options.runs;
  const deadline = Date.now() + options.drainTimeoutMs;
  while ([...confirmed].some((n) => !runs.has(n)) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  // Let stragglers (redeliveries) arrive, so duplicates are counted.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const submitted = next;
  const ran = [...runs.keys()].filter((n) => n < submitted);
  return {
    submitted,
    confirmed: confirmed.size,
    rejected: rejected.size,
    completed: ran.length,
    lost: [...confirmed].filter((n) => !runs.has(n)).length,
    duplicates: ran.filter((n) => (runs.get(n) ?? 0) > 1).length,
    ranThoughRejected: [...rejected].filter((n) => runs.has(n)).length,
    rejectionCodes,
    confirmedAtFault,
    maxSubmitMs,
    maxErrorMs,
    errorWindowMs:
      errorTimes.length === 0
        ? []
        : [Math.min(...errorTimes) - faultStartedAt, Math.max(...errorTimes) - faultStartedAt],
  };
}

/** How one client rode a fault: when its connection went, when it was back, and on which port. */
export interface Failover {
  readonly role: string;
  readonly lostAfterMs: number | undefined;
  readonly backAfterMs: number | undefined;
  readonly port: string | undefined;
  /** What the client was told when its connection went (the connection error, if one came with the close). */
  readonly reason: string;
}

/** Reads a {@link CapturingLogger}'s lines from `since` on: the first connection loss per role and its restore. */
export function failoversOf(logger: CapturingLogger, since: number): Failover[] {
  return (['publish', 'consume'] as const).flatMap((role) => {
    const lost = logger.lines.find(
      (line) => line.at >= since && line.message === `AMQP ${role} connection lost; reconnecting`,
    );
    if (!lost) return [];
    const back = logger.lines.find((line) => line.at >= lost.at && line.message === `AMQP ${role} connection restored`);
    const url = back?.fields?.url;
    const error = logger.lines.find(
      (line) => line.at >= since && line.at <= lost.at && line.message === `AMQP ${role} connection error`,
    )?.fields?.error;
    return [
      {
        role,
        lostAfterMs: lost.at - since,
        backAfterMs: back ? back.at - since : undefined,
        port: typeof url === 'string' ? /:(\d+)/.exec(url.replace(/^amqps?:\/\//, ''))?.[1] : undefined,
        reason: typeof error === 'string' ? error : 'closed without an error',
      },
    ];
  });
}
