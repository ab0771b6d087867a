/**
 * The benchmark's task: a no-op `add(a, b)` with a small JSON payload, the
 * same function body for every system so that only the queue differs.
 *
 * `sentAt` is the producer's clock (see clock.ts) at submit time; the task
 * compares it with its own start time to measure submit-to-start latency.
 * Recording is switched on only in the latency measurement, so throughput
 * runs pay for one `undefined` check.
 */
import { now } from './clock.js';

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
