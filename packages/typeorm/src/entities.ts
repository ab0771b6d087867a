import { EntitySchema, type ValueTransformer } from 'typeorm';

// Times are stored as epoch milliseconds (bigint): the same type and the same
// comparisons on PostgreSQL and SQLite, no time-zone conversion by a driver,
// and every process compares them with its own Date.now().
const epochMs: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/** A row of `taskq_outbox`: a task committed with a transaction, waiting to be published. */
export interface OutboxRow {
  /** Task id (also the broker message id). */
  id: string;
  /** Logical queue, e.g. `default`. */
  queue: string;
  /** Registry id of the task, e.g. `mail.sendWelcomeMail` (for operators and the status row). */
  task: string;
  /** The encoded envelope (JSON text), exactly as it is published. */
  body: string;
  /** Message headers as JSON text. */
  headers: string;
  priority: number | null;
  /** Epoch ms before which the task must not run (submit time plus its delay). */
  availableAt: number;
  /** Epoch ms when the row was written. */
  createdAt: number;
  /** Failed publishes so far; the relay dead-letters the task after `maxPublishAttempts`. */
  publishAttempts: number;
  /** Why the last publish failed, for operators. */
  lastError: string | null;
}

/** A row of `taskq_inbox`: a task whose per-task transaction committed. */
export interface InboxRow {
  taskId: string;
  /** Epoch ms of the commit. */
  processedAt: number;
}

/** A row of `taskq_status`: what `queue.status(id)` answers. */
export interface StatusRow {
  id: string;
  name: string;
  queue: string;
  state: string;
  attempts: number;
  /** Starts of the task: attempts and redeliveries of an attempt whose worker died. */
  deliveries: number;
  /** The dead-retry count of the latest start: a dead task starts again only for a higher one. */
  deadRetries: number;
  /** Encoded result (JSON text), when succeeded. */
  result: string | null;
  /** Last error as JSON text `{ message, code?, name?, stack? }`. */
  error: string | null;
  enqueuedAt: number;
  /** The latest start. */
  startedAt: number | null;
  finishedAt: number | null;
  /** The task's latest progress report as JSON text. */
  progress: string | null;
  /** The task's encoded (or redacted) arguments as JSON text, with the store's `keepArgs`. */
  args: string | null;
  /** Id of the worker that made the latest start (for `lost`). */
  workerId: string | null;
  /** The latest starts as a JSON array (at most 20), each with its attempt, times, worker and outcome. */
  history: string | null;
}

/** A row of `taskq_keys`: a deduplication key held by a task. */
export interface KeyRow {
  key: string;
  taskId: string;
  claimedAt: number;
}

/** A row of `taskq_schedule_ticks`: one schedule's tick claimed by one scheduler (`sqlTickClaims()`). */
export interface ScheduleTickRow {
  scheduleId: string;
  /** The tick time, epoch ms. */
  tickAt: number;
  /** The task submitted for the tick; null when the tick was skipped (`overlap: false`). */
  taskId: string | null;
  /** Fingerprint of the schedule's spec when it was claimed. */
  spec: string;
  /** Epoch ms of the claim, by the claiming host's clock. */
  claimedAt: number;
}

/** Table names; a PostgreSQL DataSource's `schema` option applies to them. */
export const TABLES = {
  outbox: 'taskq_outbox',
  inbox: 'taskq_inbox',
  status: 'taskq_status',
  keys: 'taskq_keys',
  scheduleTicks: 'taskq_schedule_ticks',
} as const;

/** The transactional outbox: tasks submitted in a transaction, published after commit by the relay. */
export const OutboxEntity = new EntitySchema<OutboxRow>({
  name: 'TaskqOutbox',
  tableName: TABLES.outbox,
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    queue: { type: 'varchar', length: 255 },
    task: { type: 'varchar', length: 255 },
    body: { type: 'text' },
    headers: { type: 'text' },
    priority: { type: 'integer', nullable: true },
    availableAt: { name: 'available_at', type: 'bigint', transformer: epochMs },
    createdAt: { name: 'created_at', type: 'bigint', transformer: epochMs },
    publishAttempts: { name: 'publish_attempts', type: 'integer', default: 0 },
    lastError: { name: 'last_error', type: 'text', nullable: true },
  },
  indices: [{ name: 'taskq_outbox_created_at', columns: ['createdAt'] }],
});

/** The inbox: one row per task whose per-task transaction committed, so a redelivery is acked without running. */
export const InboxEntity = new EntitySchema<InboxRow>({
  name: 'TaskqInbox',
  tableName: TABLES.inbox,
  columns: {
    taskId: { name: 'task_id', type: 'varchar', length: 36, primary: true },
    processedAt: { name: 'processed_at', type: 'bigint', transformer: epochMs },
  },
  indices: [{ name: 'taskq_inbox_processed_at', columns: ['processedAt'] }],
});

/** Task status and results for `sqlResultStore()`. */
export const StatusEntity = new EntitySchema<StatusRow>({
  name: 'TaskqStatus',
  tableName: TABLES.status,
  columns: {
    id: { type: 'varchar', length: 36, primary: true },
    name: { type: 'varchar', length: 255 },
    queue: { type: 'varchar', length: 255 },
    state: { type: 'varchar', length: 16 },
    attempts: { type: 'integer', default: 0 },
    deliveries: { type: 'integer', default: 0 },
    deadRetries: { name: 'dead_retries', type: 'integer', default: 0 },
    result: { type: 'text', nullable: true },
    error: { type: 'text', nullable: true },
    enqueuedAt: { name: 'enqueued_at', type: 'bigint', transformer: epochMs },
    startedAt: { name: 'started_at', type: 'bigint', nullable: true, transformer: epochMs },
    finishedAt: { name: 'finished_at', type: 'bigint', nullable: true, transformer: epochMs },
    progress: { type: 'text', nullable: true },
    args: { type: 'text', nullable: true },
    workerId: { name: 'worker_id', type: 'varchar', length: 36, nullable: true },
    history: { type: 'text', nullable: true },
  },
  // The task index (store.list()) pages newest first, whole or filtered by one of state, name, queue.
  indices: [
    { name: 'taskq_status_finished_at', columns: ['finishedAt'] },
    { name: 'taskq_status_enqueued', columns: ['enqueuedAt', 'id'] },
    { name: 'taskq_status_state_enqueued', columns: ['state', 'enqueuedAt', 'id'] },
    { name: 'taskq_status_name_enqueued', columns: ['name', 'enqueuedAt', 'id'] },
    { name: 'taskq_status_queue_enqueued', columns: ['queue', 'enqueuedAt', 'id'] },
  ],
});

/** Deduplication keys (`queue.with({ key })`) for `sqlResultStore()`. */
export const KeyEntity = new EntitySchema<KeyRow>({
  name: 'TaskqKey',
  tableName: TABLES.keys,
  columns: {
    key: { type: 'varchar', length: 255, primary: true },
    taskId: { name: 'task_id', type: 'varchar', length: 36 },
    claimedAt: { name: 'claimed_at', type: 'bigint', transformer: epochMs },
  },
});

/** Claimed schedule ticks for `sqlTickClaims()`: the primary key makes a second claim of a tick a no-op. */
export const ScheduleTickEntity = new EntitySchema<ScheduleTickRow>({
  name: 'TaskqScheduleTick',
  tableName: TABLES.scheduleTicks,
  columns: {
    scheduleId: { name: 'schedule_id', type: 'varchar', length: 200, primary: true },
    tickAt: { name: 'tick_at', type: 'bigint', primary: true, transformer: epochMs },
    taskId: { name: 'task_id', type: 'varchar', length: 36, nullable: true },
    spec: { type: 'varchar', length: 64 },
    claimedAt: { name: 'claimed_at', type: 'bigint', transformer: epochMs },
  },
});

/**
 * taskq's tables, to add to your DataSource:
 * `new DataSource({ ..., entities: [User, ...taskqEntities] })`. Create them
 * with `synchronize`, with your own generated migration, or with
 * {@link taskqMigrations}.
 */
// Typed as a plain array because TypeORM's `entities` option takes no readonly arrays; frozen all the same.
export const taskqEntities: EntitySchema[] = Object.freeze([
  OutboxEntity,
  InboxEntity,
  StatusEntity,
  KeyEntity,
  ScheduleTickEntity,
] as EntitySchema[]) as EntitySchema[];
