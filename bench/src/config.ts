/**
 * Every number the bench uses, in one place, so the README can point here and
 * a reader can see what "N" and "P" were without reading the scenarios.
 */

/** Local services only: the bench never talks to anything but loopback. */
export const AMQP_URL = process.env.BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = Number(process.env.BENCH_REDIS_PORT ?? 6379);
/** PostgreSQL for the outbox rows; each measurement uses a fresh schema `bench_<random>` in it. */
export const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The row each outbox transaction inserts besides its task(s): a stand-in for the application's own write. */
export const BENCH_TABLE = 'bench_orders';

/**
 * The prefix of the quorum rows: a quorum work queue dead-letters into `<prefix>.dead`, whose arguments may
 * differ from the classic rows' `taskq.dead`, so the two never share one.
 */
export const QUORUM_PREFIX = 'bench-quorum';

/** Consumer prefetch for raw amqplib, and worker concurrency for taskq and BullMQ. */
export const CONCURRENCY = 100;
/** Raw amqplib publishes this many messages, then awaits `waitForConfirms()`. */
export const CONFIRM_WINDOW = 1_000;
/** taskq "concurrent" mode: this many `submit()` calls in flight, like many HTTP requests at once. */
export const IN_FLIGHT = 1_000;
/** Batch size for `submitMany` and BullMQ `addBulk` (same as the raw confirm window). */
export const BATCH = 1_000;

/**
 * Outbox rows: this many `transactional()` calls in flight at once (the pool gets OUTBOX_POOL_EXTRA more connections).
 */
export const OUTBOX_IN_FLIGHT = 50;
export const OUTBOX_POOL_EXTRA = 10;
/** Tasks per transaction in the outbox row's second variant (one `submitMany`, one INSERT). */
export const OUTBOX_PER_TRANSACTION = 10;
/** Outbox relay row: rows per claim transaction (the relay's default). */
export const OUTBOX_RELAY_BATCH = 100;

/** Latency figure: the producer paces submits at this rate ... */
export const LATENCY_RATE = 500;
/**
 * ... for this many seconds (scaled by --scale) ... The tail comes in short bursts (one task in a few hundred waits
 * 2 ms or more, for raw amqplib as for taskq), so a p99 over a few thousand tasks is decided by a handful of them:
 * measured on this project's 2-core machine, the p99s of the four consecutive 5 s windows of one 20 s run went from
 * 2.1 to 4.4 ms (taskq) and from 3.3 to 5.6 ms (raw amqplib). 20 s (10,000 tasks) makes a p99 the 100th worst task,
 * steady enough to compare two systems.
 */
export const LATENCY_SECONDS = 20;
/**
 * ... after this many seconds of warm-up at the same rate, whose latencies are dropped from the p50 and p99: a
 * long-running worker is JIT-warm, and the tasks of a fresh process's first seconds would otherwise decide the p99.
 * Measured on a 2-core machine (per-task latencies, tasks over 1 ms per second of the run): after a 1 s warm-up the
 * tail stayed raised for 2 to 9 s more, taskq's mostly longer than raw amqplib's, and the p99 / raw p99 ratio of a
 * 20 s window went from 0.89 to 1.74 over six runs; after 10 s it was 0.67 to 0.92 over three. With V8 tiering up
 * 16 times sooner (--interrupt-budget=4096) the raised tail lasted 1 to 3 s for both: it is the JIT's warm-up. The
 * warm-up's own p99 is reported too (`p99Warmup`): the tail a freshly started worker shows.
 */
export const LATENCY_WARMUP_SECONDS = 10;

/** A measurement with no progress (no new completion, no new confirm) for this long has failed. */
export const STALL_MS = 60_000;
/** Time a child gets to connect and say it is ready, and to shut down when told. */
export const CHILD_START_MS = 30_000;
export const CHILD_STOP_MS = 15_000;
/** How often children report their counts (also what the stall watchdog sees). */
export const PROGRESS_EVERY_MS = 250;

/** Tasks in the soak run (scaled by --scale). */
export const SOAK_TASKS = 200_000;
/** Heap/RSS samples the soak worker takes along the way (to show a trend, not only two points). */
export const SOAK_SAMPLES = 10;

/**
 * Scale rows (`--only scale`): N worker processes on one queue, each with the worker's default concurrency
 * (createWorker's `concurrency`, 10), fed by one producer with `submitMany` batches of BATCH.
 */
export const SCALE_WORKERS: readonly number[] = [1, 2, 4, 8];
export const SCALE_CONCURRENCY = 10;
/** The I/O-bound row also runs one worker with this concurrency: the same tasks in flight as 8 x 10, in one process. */
export const SCALE_IO_WIDE_CONCURRENCY = 80;
/** Tasks per scale measurement (scaled by --scale): a few seconds each at the rates this machine reaches. */
export const SCALE_IO_TASKS = 12_000;
export const SCALE_CPU_TASKS = 4_000;
/** Scale workers report their counts this often, so the end of a run is seen within a few ms of its last task. */
export const SCALE_PROGRESS_MS = 50;
/** Nodes of the throw-away cluster of `--only scale --cluster`. */
export const CLUSTER_SIZE = 3;

/** Smallest N a scaled scenario may get, so `--scale 0.01` still measures something. */
export const MIN_TASKS = 200;
