/**
 * One measurement of an outbox row: a fresh schema (taskq's tables by
 * `taskqMigrations`) and a fresh queue, the outbox child and, for end-to-end,
 * a taskq amqp worker child; afterwards the queue is deleted and the schema
 * dropped, whatever happened. Loaded only when an outbox row is selected.
 */
import { withTimeout } from './clock.js';
import { CONCURRENCY, OUTBOX_POOL_EXTRA } from './config.js';
import { Child, Watchdog } from './host.js';
import type { OutboxConfig } from './ipc.js';
import {
  cleanup,
  CLEANUP_MS,
  createQueueName,
  execArgv,
  type Figures,
  type MeasureContext,
  message,
  rowTasks,
  step,
} from './measure.js';
import {
  applicationNameOf,
  benchRows,
  createBenchSchema,
  dropBenchSchema,
  foreignBackends,
  outboxRows,
} from './outbox-db.js';
import type { Row } from './rows.js';
import { startServerCpu } from './server-cpu.js';
import { percentile, rate } from './stats.js';

interface Outcome {
  readonly startedAt: number;
  readonly doneAt: number;
  readonly transactions: number;
  readonly tasks: number;
  readonly commitToPublish: readonly number[];
  readonly commitToSend: readonly number[];
  readonly unconfirmed: number;
  readonly producerCpuUs: number;
  readonly workerCpuUs?: number;
  readonly rssBefore?: number;
  readonly rssAfter?: number;
  readonly brokerCpuUs: number | undefined;
  readonly dbCpuUs: number | undefined;
}

async function once(
  row: Row,
  what: 'submit' | 'e2e',
  n: number,
  context: MeasureContext,
  figures: Figures,
): Promise<Outcome> {
  const shape = row.outbox;
  if (!shape) throw new Error(`${row.id} has no outbox shape`);
  const admin = await context.admins.get('taskq-amqp');
  const queue = createQueueName(admin);
  let schema: string | undefined;
  const watchdog = new Watchdog();
  let worker: Child | undefined;
  let producer: Child | undefined;
  try {
    schema = await withTimeout(createBenchSchema(), CLEANUP_MS, 'create schema');
    const inFlight = shape.kind === 'relay' ? 1 : shape.inFlight;
    const config: OutboxConfig = {
      role: 'outbox',
      measure: shape.kind,
      applicationName: applicationNameOf(schema),
      schema,
      queue,
      count: n,
      perTransaction: shape.kind === 'transactions' ? shape.perTransaction : 1,
      inFlight,
      poolSize: inFlight + OUTBOX_POOL_EXTRA,
      batchSize: shape.kind === 'relay' ? shape.batchSize : 1,
    };
    let ready: { cpuUs: number; memory: { rss: number } } | undefined;
    if (what === 'e2e') {
      worker = new Child(
        `${row.id} worker`,
        'worker',
        {
          role: 'worker',
          system: 'taskq-amqp',
          queue,
          expected: n,
          concurrency: CONCURRENCY,
          latency: false,
          samples: 0,
        },
        watchdog,
        { execArgv: execArgv(context, 'worker', `${row.id}-${what}-worker`) },
      );
      ready = await worker.ready();
    }
    producer = new Child(`${row.id} outbox`, 'outbox', config, watchdog, {
      execArgv: execArgv(context, 'producer', `${row.id}-${what}-producer`),
    });
    // Setting up the relay row commits its N rows before `ready`: the watchdog's start limit covers it.
    await producer.ready();
    const brokerCpu = startServerCpu('beam.smp');
    const dbCpu = startServerCpu('postgres');
    producer.send({ type: 'go' });
    const started = await watchdog.guard(producer.next('started'), `${row.id} ${what}`);
    const done = await watchdog.guard(producer.next('outbox-done'), `${row.id} ${what}`);
    let doneAt = done.at;
    let workerCpuUs: number | undefined;
    let rssAfter: number | undefined;
    if (worker && ready) {
      const finished = await watchdog.guard(worker.next('done'), `${row.id} ${what}`);
      doneAt = finished.lastAt;
      workerCpuUs = finished.cpuUs - ready.cpuUs;
      rssAfter = finished.memory.rss / (1024 * 1024);
    }
    const brokerCpuUs = brokerCpu();
    const foreign = await withTimeout(foreignBackends(config.applicationName), CLEANUP_MS, 'backend list');
    const dbCpuUs = dbCpu(foreign);
    if (shape.kind === 'baseline') {
      // The warm-up's transactions are in the table too.
      const rows = await withTimeout(benchRows(schema), CLEANUP_MS, 'bench row count');
      if (rows !== n + inFlight)
        figures.warnings.push(`${what}: ${rows} bench rows committed, expected ${n} (+ ${inFlight} warm-up)`);
    } else {
      const left = await withTimeout(outboxRows(schema), CLEANUP_MS, 'outbox count');
      if (left !== 0) figures.warnings.push(`${what}: ${left} rows still in the outbox afterwards`);
      if (done.tasks !== n) figures.warnings.push(`${what}: ${done.tasks} tasks published, expected ${n}`);
    }
    if (done.unconfirmed > 0)
      figures.warnings.push(`${what}: ${done.unconfirmed} transaction(s) not published right after their commit`);
    if (what === 'submit' && shape.kind !== 'baseline') {
      const backlog = await withTimeout(admin.backlog(queue), CLEANUP_MS, 'backlog check');
      if (backlog !== n) figures.warnings.push(`submit-only: ${n} published but ${backlog} waiting in the queue`);
    }
    return {
      startedAt: started.at,
      doneAt,
      transactions: done.transactions,
      tasks: done.tasks,
      commitToPublish: done.commitToPublish,
      commitToSend: done.commitToSend,
      unconfirmed: done.unconfirmed,
      producerCpuUs: done.cpuUs - started.cpuUs,
      ...(workerCpuUs !== undefined ? { workerCpuUs } : {}),
      ...(ready ? { rssBefore: ready.memory.rss / (1024 * 1024) } : {}),
      ...(rssAfter !== undefined ? { rssAfter } : {}),
      brokerCpuUs,
      dbCpuUs,
    };
  } finally {
    await Promise.all([producer?.stop(), worker?.stop()]);
    await cleanup(admin, queue, figures.errors);
    if (schema)
      await dropBenchSchema(schema, CLEANUP_MS).catch((error: unknown) =>
        figures.errors.push(`dropping schema ${schema} failed: ${message(error)}`),
      );
  }
}

function perTask(micros: number | undefined, n: number): number | undefined {
  return micros === undefined ? undefined : micros / n;
}

export async function measureOutbox(row: Row, context: MeasureContext, figures: Figures): Promise<void> {
  const n = rowTasks(row, context.scale);
  const shape = row.outbox;
  if (shape?.kind === 'relay') {
    context.log(`  ${row.id}: ${n} rows left behind, one relay sweep`);
    await step(figures, 'relay', async () => {
      const r = await once(row, 'submit', n, context, figures);
      figures.submit = rate(r.tasks, r.startedAt, r.doneAt);
      figures.producerCpu = r.producerCpuUs / n;
      figures.serverCpuSubmit = perTask(r.brokerCpuUs, n);
      figures.dbCpuSubmit = perTask(r.dbCpuUs, n);
    });
    return;
  }
  if (shape?.kind === 'baseline') {
    context.log(`  ${row.id}: ${n} transactions without taskq`);
    await step(figures, 'submit', async () => {
      const r = await once(row, 'submit', n, context, figures);
      figures.transactions = rate(r.transactions, r.startedAt, r.doneAt);
      figures.producerCpu = r.producerCpuUs / n;
      figures.dbCpuSubmit = perTask(r.dbCpuUs, n);
    });
    return;
  }
  if (row.submit) {
    context.log(`  ${row.id}: submit-only, ${n} tasks in transactions`);
    await step(figures, 'submit', async () => {
      const r = await once(row, 'submit', n, context, figures);
      figures.submit = rate(r.tasks, r.startedAt, r.doneAt);
      figures.transactions = rate(r.transactions, r.startedAt, r.doneAt);
      figures.producerCpu = r.producerCpuUs / n;
      figures.serverCpuSubmit = perTask(r.brokerCpuUs, n);
      figures.dbCpuSubmit = perTask(r.dbCpuUs, n);
      figures.commitPublishP50 = percentile(r.commitToPublish, 50);
      figures.commitPublishP99 = percentile(r.commitToPublish, 99);
      figures.commitSendP50 = percentile(r.commitToSend, 50);
      figures.commitSendP99 = percentile(r.commitToSend, 99);
    });
  }
  if (row.e2e) {
    context.log(`  ${row.id}: end-to-end, ${n} tasks in transactions`);
    await step(figures, 'e2e', async () => {
      const r = await once(row, 'e2e', n, context, figures);
      figures.e2e = rate(n, r.startedAt, r.doneAt);
      if (r.rssBefore !== undefined) figures.rssBefore = r.rssBefore;
      if (r.rssAfter !== undefined) figures.rssAfter = r.rssAfter;
      if (r.workerCpuUs !== undefined) figures.workerCpu = r.workerCpuUs / n;
      figures.serverCpuE2e = perTask(r.brokerCpuUs, n);
      figures.dbCpuE2e = perTask(r.dbCpuUs, n);
    });
  }
}
