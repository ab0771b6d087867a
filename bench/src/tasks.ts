/**
 * The benchmark's task: a no-op `add(a, b)` with a small JSON payload, the
 * same function body for every system so that only the queue differs.
 *
 * `sentAt` is the producer's clock (see clock.ts) at submit time; the task
 * compares it with its own start time to measure submit-to-start latency.
 * Recording is switched on only in the latency measurement, so throughput
 * runs pay for one `undefined` check.
 */
import { createHash } from 'node:crypto';
import { now, sleep } from './clock.js';

let samples: Float64Array | undefined;
let recorded = 0;

/** Starts recording submit-to-start latencies, up to `capacity` of them. */
export function recordLatencies(capacity: number): void {
  samples = new Float64Array(capacity);
  recorded = 0;
}

/** The latencies recorded so far, in milliseconds. */
export function latencies(): number[] {
  return samples ? Array.from(samples.subarray(0, recorded)) : [];
}

export function add(a: number, b: number, sentAt?: number): number {
  if (samples !== undefined && sentAt !== undefined && recorded < samples.length) {
    samples[recorded++] = now() - sentAt;
  }
  return a + b;
}

/** How long the I/O-bound task of the scale rows waits: a short database or HTTP call. */
export const IO_WAIT_MS = 5;

/** The I/O-bound task: waits IO_WAIT_MS on a timer and uses almost no CPU, as a task awaiting a remote call. */
export async function wait(a: number, b: number, _sentAt?: number): Promise<number> {
  await sleep(IO_WAIT_MS);
  return a + b;
}

/**
 * The CPU-bound task's fixed work: SHA-256 over HASH_ROUNDS x 64 KiB (1 MiB),
 * each round chained to the previous digest so none can be skipped. About
 * 1 ms on the bench machine when it is idle (see bench/README.md).
 */
export const HASH_ROUNDS = 16;
const HASH_INPUT = Buffer.alloc(64 * 1024, 7);

export function hash(a: number, b: number, _sentAt?: number): number {
  let digest = Buffer.alloc(32);
  for (let i = 0; i < HASH_ROUNDS; i++) digest = createHash('sha256').update(HASH_INPUT).update(digest).digest();
  // The digest is native work V8 cannot drop; the result stays the same as add's.
  return digest.length > 0 ? a + b : 0;
}
