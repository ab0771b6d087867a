// The published .d.ts name Node types (Buffer, AbortSignal, Symbol.asyncDispose): load @types/node for the
// application even where its tsconfig lists no `types` (the TypeScript 6 default).
/// <reference types="node" preserve="true" />
/**
 * `@taskq/core`: what an application uses — the registry, the queue and its
 * units of work, the worker, the transports, the result store, the task
 * context and the errors. What adapter and plugin authors build on is in
 * `@taskq/core/adapter`.
 *
 * @packageDocumentation
 */
export { TaskRegistry, type TaskDefinition, type TaskFunction } from './registry.js';
export { createQueue, TaskHandle, TaskFailedError, type ResultOptions, type QueueOptions } from './queue.js';
export type { TaskQueue, BoundTaskQueue, Submission, SubmitMiddleware } from './task-queue.js';
export {
  createWorker,
  type Worker,
  type WorkerOptions,
  type StopOptions,
  type TaskMiddleware,
  type TaskContext,
  type LifecycleHook,
} from './worker.js';
export type {
  WorkerEvents,
  ActiveEvent,
  CompletedEvent,
  ProgressEvent,
  FailedEvent,
  DeadEvent,
  WorkerErrorEvent,
  DeadLetterReason,
} from './worker-events.js';
export { UnitOfWorkSettledError, BoundQueueMisuseError } from './bound-queue.js';
export type { UnitOfWork, UnitOfWorkState } from './unit-of-work.js';
export type {
  ResultStore,
  TaskStatus,
  TaskState,
  ProgressValue,
  TaskListQuery,
  TaskPage,
  TaskCounts,
  FinishedMinute,
  Unsubscribe,
  AttemptRecord,
  AttemptOutcome,
  AttemptWorker,
  WorkerPlace,
} from './result-store.js';
export { MAX_ATTEMPT_HISTORY, MAX_HISTORY_STACK_CHARS } from './result-store.js';
export type { WatchOptions } from './watch.js';
export type { KeepArgsOptions } from './internal/task-index.js';
export { memoryResultStore, type MemoryResultStore, type MemoryResultStoreOptions } from './memory-result-store.js';
export { currentTask, maybeCurrentTask, type CurrentTask } from './context.js';
export type { TaskOptions, SubmitOptions, Backoff, RateLimit, RegistrationOptions } from './task-options.js';
export type { EnvelopeVersion, MetaValue } from './envelope.js';
export type { Codec, EncodeContext, DecodeContext } from './codecs/types.js';
export {
  TaskRequest,
  RouteError,
  type RequestUrlContext,
  type UrlHelpers,
  type TravellingHeader,
} from './request/task-request.js';
export type {
  ControlMessage,
  ControlPlane,
  Leadership,
  RateLimitTokens,
  RateToken,
  Transport,
  WorkerHeartbeat,
} from './transport.js';
export {
  schedule,
  type Schedule,
  type ScheduleSpec,
  type ScheduleOptions,
  type CronSpec,
  type EverySpec,
  type CatchUp,
} from './schedules/spec.js';
export {
  createScheduler,
  type Scheduler,
  type SchedulerOptions,
  type SchedulerEvents,
  type FiredEvent,
  type SkippedEvent,
} from './schedules/scheduler.js';
export type { TickClaims, TickClaim, ScheduleMark } from './schedules/claims.js';
export { tickId } from './schedules/tick-id.js';
export { DuplicateScheduleError, NoLeadershipError } from './schedules/errors.js';
export { memory, type MemoryTransport, type MemoryTransportOptions } from './transports/memory/memory-transport.js';
export { amqp, type AmqpTransport, type AmqpTransportOptions } from './transports/amqp/amqp-transport.js';
export type { QueueType } from './transports/amqp/topology.js';
export type { SigningKey } from './signing.js';
export { consoleLogger, fieldsFirstLogger, silentLogger, type FieldsFirstLogger, type Logger } from './logger.js';
export {
  TaskqError,
  UnregisteredTaskError,
  DuplicateTaskError,
  UnserializableArgumentError,
  DecodeError,
  InvalidOptionError,
  PayloadTooLargeError,
  TransportError,
  PublishTimeoutError,
  PublishUnroutableError,
  PublishRefusedError,
  UnpublishableMessageError,
  ClosedError,
  UnitOfWorkClosedError,
  ResultTimeoutError,
  WorkerStartedError,
  WorkerStoppingError,
  NonRetryableError,
  RateLimitedError,
  NoControlPlaneError,
  TaskCancelledError,
  TaskTimeoutError,
  MessageExpiredError,
  NoTaskContextError,
  PrefixClashError,
  UnsupportedVersionError,
  errorCode,
} from './errors.js';
export { ERROR_CODES, type TaskqErrorCode, type ErrorCodeInfo } from './error-codes.js';
