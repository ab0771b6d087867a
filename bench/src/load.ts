/**
 * How a producer drives a system. Every system offers the same two primitives
 * (`one` and optionally `many`), and these four load shapes are built on them,
 * so "one at a time" or "1,000 in flight" means the same thing for each.
 * Every loop runs a fixed number of times; nothing here waits without end
 * (the parent's watchdog kills a producer that stops making progress).
 */
import { now, sleep } from './clock.js';

export interface Producer {
  /** Submits one `add(1, 2, sentAt)`; resolves once the system holds it safely (broker confirm / Redis reply). */
  one(sentAt: number): Promise<void>;
  /** Submits `count` tasks with the system's batch API; resolves once all are held safely. */
  many?(count: number): Promise<void>;
  close(): Promise<void>;
}

export type LoadShape =
  | { readonly kind: 'serial' }
  | { readonly kind: 'concurrent'; readonly inFlight: number }
  | { readonly kind: 'batched'; readonly batch: number }
  | { readonly kind: 'paced'; readonly perSecond: number };

export type Progress = (done: number) => void;

/** Submits `n` tasks in the given shape; resolves when all are confirmed. */
export async function drive(producer: Producer, shape: LoadShape, n: number, progress: Progress): Promise<void> {
  switch (shape.kind) {
    case 'serial':
      return serial(producer, n, progress);
    case 'concurrent':
      return concurrent(producer, n, shape.inFlight, progress);
    case 'batched':
      return batched(producer, n, shape.batch, progress);
    case 'paced':
      return paced(producer, n, shape.perSecond, progress);
  }
}

/** Await each submit before the next: the latency-bound "naive" producer. */
async function serial(producer: Producer, n: number, progress: Progress): Promise<void> {
  for (let i = 0; i < n; i++) {
    await producer.one(now());
    progress(i + 1);
  }
}

/**
 * `inFlight` independent loops each awaiting its own submit, as if that many
 * HTTP requests each submitted one task: the realistic web-backend load.
 */
async function concurrent(producer: Producer, n: number, inFlight: number, progress: Progress): Promise<void> {
  let started = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (started < n) {
      started++;
      await producer.one(now());
      progress(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
}

async function batched(producer: Producer, n: number, batch: number, progress: Progress): Promise<void> {
  const many = producer.many;
  if (!many) throw new Error('this system has no batch API');
  for (let done = 0; done < n; ) {
    const count = Math.min(batch, n - done);
    await many.call(producer, count);
    done += count;
    progress(done);
  }
}

/**
 * A fixed rate, each submit fired on schedule without waiting for the previous
 * one (a web server does not hold request 2 until request 1's publish is
 * confirmed). The schedule is absolute, so timer jitter does not drift the rate.
 */
async function paced(producer: Producer, n: number, perSecond: number, progress: Progress): Promise<void> {
  const interval = 1000 / perSecond;
  const start = now();
  const pending: Promise<void>[] = [];
  let done = 0;
  for (let i = 0; i < n; i++) {
    const due = start + i * interval;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    pending.push(producer.one(now()).then(() => progress(++done)));
  }
  await Promise.all(pending);
}
