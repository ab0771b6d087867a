/**
 * The scenario list: one table row each. `tasks` is N before --scale.
 * N is chosen so a measurement lasts several seconds on a 2-core machine;
 * the slow one-at-a-time variants get a smaller N for the same reason.
 */
import {
  BATCH,
  CONFIRM_WINDOW,
  IN_FLIGHT,
  OUTBOX_IN_FLIGHT,
  OUTBOX_PER_TRANSACTION,
  OUTBOX_RELAY_BATCH,
} from './config.js';
import type { SystemName } from './ipc.js';
import type { LoadShape } from './load.js';

/** `typeorm`: the outbox rows' baseline, the same transactions through TypeORM with no taskq at all. */
export type RowSystem = SystemName | 'taskq-memory' | 'taskq-outbox' | 'typeorm';

/**
 * Outbox rows: `transactions` submits inside `transactional()` (`perTransaction`
 * tasks each, `inFlight` transactions at once); `baseline` runs the same
 * transactions (one bench_orders INSERT, COMMIT) through `dataSource.transaction()`
 * with no task and no taskq; `after-commit` runs the baseline's transactions and
 * submits one task directly once each committed (what an application without an
 * outbox does: not atomic, a crash in between loses the task), the floor of any
 * design that publishes a task per transaction; `relay` leaves N rows in the outbox
 * and times one relay sweep over them.
 */
export type OutboxShape =
  | { readonly kind: 'transactions'; readonly perTransaction: number; readonly inFlight: number }
  | { readonly kind: 'baseline'; readonly inFlight: number }
  | { readonly kind: 'after-commit'; readonly inFlight: number }
  | { readonly kind: 'relay'; readonly batchSize: number };

/** Targets of an outbox row's commit → confirm latency, ms. */
export interface ConfirmTarget {
  readonly p50: number;
  readonly p99: number;
}

export interface Row {
  readonly id: string;
  readonly label: string;
  readonly system: RowSystem;
  /** How the producer submits in the submit-only and end-to-end measurements. */
  readonly shape: LoadShape;
  readonly tasks: number;
  /** Which figures this row measures. */
  readonly submit: boolean;
  readonly e2e: boolean;
  readonly latency: boolean;
  /** Set for a scenario that is listed but cannot be measured yet, with the reason. */
  readonly pending?: string;
  /** The outbox rows' load (systems `taskq-outbox` and `typeorm`). */
  readonly outbox?: OutboxShape;
  /** Outbox rows: the commit → confirm latency this row should meet. */
  readonly confirmTarget?: ConfirmTarget;
}

export const ROWS: readonly Row[] = [
  {
    id: 'raw-window',
    label: `raw amqplib, confirm window ${CONFIRM_WINDOW}`,
    system: 'raw',
    shape: { kind: 'batched', batch: CONFIRM_WINDOW },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: true,
  },
  {
    id: 'raw-naive',
    label: 'raw amqplib, await each confirm',
    system: 'raw',
    shape: { kind: 'serial' },
    tasks: 5_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // Diagnostic: the limit's code with taskq's wire format (see raw-amqplib.ts).
    id: 'raw-taskq-format',
    label: `raw amqplib + taskq wire format, window ${CONFIRM_WINDOW}`,
    system: 'raw-taskq-format',
    shape: { kind: 'batched', batch: CONFIRM_WINDOW },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    id: 'taskq-concurrent',
    label: `taskq amqp, submit x${IN_FLIGHT} in flight`,
    system: 'taskq-amqp',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: true,
  },
  {
    // The same load on a quorum queue (`queueType: 'quorum'`): what replication's machinery costs on one node.
    id: 'taskq-quorum',
    label: `taskq amqp, quorum queue, submit x${IN_FLIGHT} in flight`,
    system: 'taskq-quorum',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: true,
  },
  {
    // The same load with a trace context in every envelope and no OpenTelemetry: the wire's part of tracing's cost.
    id: 'taskq-context',
    label: `taskq amqp, W3C trace context carried, no OpenTelemetry SDK, submit x${IN_FLIGHT} in flight`,
    system: 'taskq-context',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // The same load with @taskq/opentelemetry registered (spans, metrics, trace context): the cost of tracing.
    id: 'taskq-traced',
    label: `taskq amqp + OpenTelemetry (spans and metrics), submit x${IN_FLIGHT} in flight`,
    system: 'taskq-traced',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // The traced row with a tenth of the traces sampled at the root: what tracing costs a service that samples.
    id: 'taskq-sampled',
    label: `taskq amqp + OpenTelemetry, 10 % of traces sampled, submit x${IN_FLIGHT} in flight`,
    system: 'taskq-sampled',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // The instrumentation with `tracing: false`: the task metrics alone, no span and no trace context.
    id: 'taskq-metrics',
    label: `taskq amqp + OpenTelemetry metrics only (tracing: false), submit x${IN_FLIGHT} in flight`,
    system: 'taskq-metrics',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    id: 'taskq-serial',
    label: 'taskq amqp, await each submit',
    system: 'taskq-amqp',
    shape: { kind: 'serial' },
    tasks: 5_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    id: 'taskq-many',
    label: `taskq amqp, submitMany x${BATCH}`,
    system: 'taskq-amqp',
    shape: { kind: 'batched', batch: BATCH },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // taskq's bulk path traced: one producer span per submitMany (its batch), one span per attempt.
    id: 'taskq-many-traced',
    label: `taskq amqp + OpenTelemetry (spans and metrics), submitMany x${BATCH}`,
    system: 'taskq-traced',
    shape: { kind: 'batched', batch: BATCH },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    id: 'bullmq-bulk',
    label: `BullMQ, addBulk x${BATCH}`,
    system: 'bullmq',
    shape: { kind: 'batched', batch: BATCH },
    tasks: 50_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // BullMQ's own tracing (bullmq-otel, spans and metrics) on the SDK set-up of the taskq-traced rows.
    id: 'bullmq-bulk-traced',
    label: `BullMQ + OpenTelemetry (bullmq-otel, spans and metrics), addBulk x${BATCH}`,
    system: 'bullmq-traced',
    shape: { kind: 'batched', batch: BATCH },
    tasks: 50_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    id: 'bullmq-single',
    label: 'BullMQ, await each add',
    system: 'bullmq',
    shape: { kind: 'serial' },
    tasks: 10_000,
    submit: true,
    e2e: true,
    latency: true,
  },
  {
    id: 'taskq-memory',
    label: `taskq memory (one process), x${IN_FLIGHT} in flight`,
    system: 'taskq-memory',
    shape: { kind: 'concurrent', inFlight: IN_FLIGHT },
    tasks: 100_000,
    submit: true,
    e2e: true,
    latency: true,
  },
  {
    id: 'taskq-outbox',
    label: `taskq outbox (TypeORM/PG), 1 task/tx, ${OUTBOX_IN_FLIGHT} tx in flight`,
    system: 'taskq-outbox',
    shape: { kind: 'concurrent', inFlight: OUTBOX_IN_FLIGHT },
    outbox: { kind: 'transactions', perTransaction: 1, inFlight: OUTBOX_IN_FLIGHT },
    confirmTarget: { p50: 5, p99: 25 },
    tasks: 10_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // The row above without taskq: what the application's own transaction costs. N is transactions.
    id: 'typeorm-baseline',
    label: `TypeORM/PG transaction without taskq (baseline), ${OUTBOX_IN_FLIGHT} tx in flight`,
    system: 'typeorm',
    shape: { kind: 'concurrent', inFlight: OUTBOX_IN_FLIGHT },
    outbox: { kind: 'baseline', inFlight: OUTBOX_IN_FLIGHT },
    tasks: 10_000,
    submit: true,
    e2e: false,
    latency: false,
  },
  {
    // The baseline's transactions, each followed by a plain submit after its COMMIT: no outbox, so not atomic. What
    // publishing one task per transaction costs at all; the outbox's own cost is the gap between it and taskq-outbox.
    id: 'typeorm-then-submit',
    label: `TypeORM/PG transaction, then submit after COMMIT (no outbox, not atomic), ${OUTBOX_IN_FLIGHT} tx in flight`,
    system: 'taskq-outbox',
    shape: { kind: 'concurrent', inFlight: OUTBOX_IN_FLIGHT },
    outbox: { kind: 'after-commit', inFlight: OUTBOX_IN_FLIGHT },
    tasks: 10_000,
    submit: true,
    e2e: false,
    latency: false,
  },
  {
    id: 'taskq-outbox-x10',
    label: `taskq outbox (TypeORM/PG), ${OUTBOX_PER_TRANSACTION} tasks/tx, ${OUTBOX_IN_FLIGHT} tx in flight`,
    system: 'taskq-outbox',
    shape: { kind: 'concurrent', inFlight: OUTBOX_IN_FLIGHT },
    outbox: { kind: 'transactions', perTransaction: OUTBOX_PER_TRANSACTION, inFlight: OUTBOX_IN_FLIGHT },
    tasks: 30_000,
    submit: true,
    e2e: true,
    latency: false,
  },
  {
    // "submit-only" here is the relay's sweep: rows published (and deleted) per second.
    id: 'taskq-outbox-relay',
    label: `taskq outbox relay: sweep of left-behind rows, batch ${OUTBOX_RELAY_BATCH}`,
    system: 'taskq-outbox',
    shape: { kind: 'batched', batch: OUTBOX_RELAY_BATCH },
    outbox: { kind: 'relay', batchSize: OUTBOX_RELAY_BATCH },
    tasks: 20_000,
    submit: true,
    e2e: false,
    latency: false,
  },
];

/** `transactions`: the outbox rows' transactions per second (submit-only). */
export type Figure = 'submit' | 'e2e' | 'transactions';

export interface Ratio {
  readonly label: string;
  readonly numerator: { readonly row: string; readonly figure: Figure };
  readonly denominator: { readonly row: string; readonly figure: Figure };
  /** The goal, as "at least this"; undefined for an informational ratio. */
  readonly target?: number;
}

/** Each ratio is taken run by run (same run, same machine state), then summarised. */
export const RATIOS: readonly Ratio[] = [
  {
    label: 'taskq amqp e2e / raw amqplib e2e',
    numerator: { row: 'taskq-concurrent', figure: 'e2e' },
    denominator: { row: 'raw-window', figure: 'e2e' },
    target: 0.9,
  },
  {
    label: 'taskq submit-only / raw submit-only',
    numerator: { row: 'taskq-concurrent', figure: 'submit' },
    denominator: { row: 'raw-window', figure: 'submit' },
    target: 0.9,
  },
  {
    label: 'taskq submitMany e2e / raw e2e',
    numerator: { row: 'taskq-many', figure: 'e2e' },
    denominator: { row: 'raw-window', figure: 'e2e' },
    target: 0.9,
  },
  {
    label: 'taskq submitMany submit-only / raw submit-only',
    numerator: { row: 'taskq-many', figure: 'submit' },
    denominator: { row: 'raw-window', figure: 'submit' },
    target: 0.9,
  },
  {
    label: 'taskq amqp + OpenTelemetry e2e / taskq amqp e2e (cost of tracing)',
    numerator: { row: 'taskq-traced', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
    target: 0.85,
  },
  {
    label: 'taskq with trace context carried, no SDK, e2e / taskq amqp e2e (the wire part of tracing)',
    numerator: { row: 'taskq-context', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
  },
  {
    label: 'taskq amqp + OpenTelemetry e2e / taskq with trace context carried e2e (the SDK part of tracing)',
    numerator: { row: 'taskq-traced', figure: 'e2e' },
    denominator: { row: 'taskq-context', figure: 'e2e' },
  },
  {
    label: 'taskq amqp + OpenTelemetry, 10 % sampled, e2e / taskq amqp e2e (cost of tracing when sampling)',
    numerator: { row: 'taskq-sampled', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
  },
  {
    label: 'taskq amqp + OpenTelemetry metrics only e2e / taskq amqp e2e (cost of the metrics)',
    numerator: { row: 'taskq-metrics', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
  },
  {
    label: 'taskq submitMany + OpenTelemetry e2e / taskq submitMany e2e (cost of tracing, bulk path)',
    numerator: { row: 'taskq-many-traced', figure: 'e2e' },
    denominator: { row: 'taskq-many', figure: 'e2e' },
  },
  {
    label: "BullMQ addBulk + OpenTelemetry e2e / BullMQ addBulk e2e (BullMQ's cost of tracing)",
    numerator: { row: 'bullmq-bulk-traced', figure: 'e2e' },
    denominator: { row: 'bullmq-bulk', figure: 'e2e' },
  },
  {
    label: 'taskq submitMany + OpenTelemetry e2e / BullMQ addBulk + OpenTelemetry e2e (both traced)',
    numerator: { row: 'taskq-many-traced', figure: 'e2e' },
    denominator: { row: 'bullmq-bulk-traced', figure: 'e2e' },
  },
  {
    label: 'taskq quorum queue e2e / taskq classic queue e2e (cost of quorum)',
    numerator: { row: 'taskq-quorum', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
  },
  {
    label: 'taskq quorum queue submit-only / taskq classic queue submit-only',
    numerator: { row: 'taskq-quorum', figure: 'submit' },
    denominator: { row: 'taskq-concurrent', figure: 'submit' },
  },
  {
    label: 'raw with taskq wire format e2e / raw e2e (format cost)',
    numerator: { row: 'raw-taskq-format', figure: 'e2e' },
    denominator: { row: 'raw-window', figure: 'e2e' },
  },
  {
    label: 'taskq submitMany e2e / raw with taskq wire format e2e (engine cost)',
    numerator: { row: 'taskq-many', figure: 'e2e' },
    denominator: { row: 'raw-taskq-format', figure: 'e2e' },
  },
  {
    label: 'taskq one-at-a-time e2e / raw naive e2e',
    numerator: { row: 'taskq-serial', figure: 'e2e' },
    denominator: { row: 'raw-naive', figure: 'e2e' },
  },
  {
    label: 'taskq amqp e2e / BullMQ addBulk e2e',
    numerator: { row: 'taskq-concurrent', figure: 'e2e' },
    denominator: { row: 'bullmq-bulk', figure: 'e2e' },
    target: 2,
  },
  {
    label: 'taskq amqp e2e / BullMQ add e2e',
    numerator: { row: 'taskq-concurrent', figure: 'e2e' },
    denominator: { row: 'bullmq-single', figure: 'e2e' },
    target: 2,
  },
  {
    label: 'taskq submitMany e2e / BullMQ addBulk e2e',
    numerator: { row: 'taskq-many', figure: 'e2e' },
    denominator: { row: 'bullmq-bulk', figure: 'e2e' },
    target: 2,
  },
  {
    label: 'taskq one-at-a-time e2e / BullMQ add one-at-a-time e2e',
    numerator: { row: 'taskq-serial', figure: 'e2e' },
    denominator: { row: 'bullmq-single', figure: 'e2e' },
    target: 2,
  },
  {
    label: 'taskq outbox 1 task/tx tx/s / the same TypeORM transaction without taskq tx/s (cost of the outbox)',
    numerator: { row: 'taskq-outbox', figure: 'transactions' },
    denominator: { row: 'typeorm-baseline', figure: 'transactions' },
    target: 0.7,
  },
  {
    label:
      'transaction then submit after COMMIT tx/s / the same transaction without taskq tx/s (cost of publishing a task per transaction, no outbox)',
    numerator: { row: 'typeorm-then-submit', figure: 'transactions' },
    denominator: { row: 'typeorm-baseline', figure: 'transactions' },
  },
  {
    label:
      'taskq outbox 1 task/tx tx/s / transaction then submit after COMMIT tx/s (cost of atomicity: the outbox row)',
    numerator: { row: 'taskq-outbox', figure: 'transactions' },
    denominator: { row: 'typeorm-then-submit', figure: 'transactions' },
  },
  {
    label: 'taskq outbox 1 task/tx submit-only / taskq amqp submit-only (cost of the transaction)',
    numerator: { row: 'taskq-outbox', figure: 'submit' },
    denominator: { row: 'taskq-concurrent', figure: 'submit' },
  },
  {
    label: 'taskq outbox 1 task/tx e2e / taskq amqp e2e',
    numerator: { row: 'taskq-outbox', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
  },
  {
    label: `taskq outbox ${OUTBOX_PER_TRANSACTION} tasks/tx e2e / taskq amqp e2e`,
    numerator: { row: 'taskq-outbox-x10', figure: 'e2e' },
    denominator: { row: 'taskq-concurrent', figure: 'e2e' },
  },
  {
    label: 'taskq outbox relay rows/s / taskq submitMany submit-only',
    numerator: { row: 'taskq-outbox-relay', figure: 'submit' },
    denominator: { row: 'taskq-many', figure: 'submit' },
  },
];
