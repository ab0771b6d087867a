/**
 * Attribute names this instrumentation sets: the OpenTelemetry messaging semantic conventions (as plain strings, so
 * the package needs no semantic-conventions dependency) and taskq's own `taskq.*` attributes.
 */
export const ATTR = {
  messagingSystem: 'messaging.system',
  messagingOperationType: 'messaging.operation.type',
  messagingOperationName: 'messaging.operation.name',
  messagingDestinationName: 'messaging.destination.name',
  messagingMessageId: 'messaging.message.id',
  messagingBatchMessageCount: 'messaging.batch.message_count',
  rabbitmqRoutingKey: 'messaging.rabbitmq.destination.routing_key',
  errorType: 'error.type',
  /** Registry id of the task (`mail.sendWelcomeMail`). */
  taskName: 'taskq.task.name',
  /** Logical queue (`default`, `mail`). */
  queue: 'taskq.queue',
  /** Attempt number, 1 for the first. */
  attempt: 'taskq.task.attempt',
  maxAttempts: 'taskq.task.max_attempts',
  /** What became of an attempt: `completed`, `retried`, `dead`, `cancelled`, `skipped`, `requeued`. */
  outcome: 'taskq.task.outcome',
  /** Why a message was dead-lettered (`attempts-exhausted`, `malformed-message`, ...). */
  deadLetterReason: 'taskq.dead_letter.reason',
  /** The transport's prefix, on the dead-letter gauge (one dead-letter queue per prefix). */
  prefix: 'taskq.prefix',
} as const;

/** Metric names this instrumentation records (OpenTelemetry names; the Prometheus exporter writes `_` for `.`). */
export const METRICS = {
  submitted: 'taskq.tasks.submitted',
  completed: 'taskq.tasks.completed',
  failed: 'taskq.tasks.failed',
  retried: 'taskq.tasks.retried',
  deadLettered: 'taskq.tasks.dead_lettered',
  cancelled: 'taskq.tasks.cancelled',
  duration: 'taskq.task.duration',
  queueWait: 'taskq.task.queue_wait',
  running: 'taskq.tasks.running',
  queueDepth: 'taskq.queue.depth',
  queueConsumers: 'taskq.queue.consumers',
  deadLetters: 'taskq.dead_letters',
} as const;
