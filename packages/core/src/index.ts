export { TaskRegistry, type TaskDefinition, type TaskFunction } from './registry.js';
export {
  createQueue,
  TaskHandle,
  TaskFailedError,
  type ResultOptions,
  type QueueOptions,
  type TaskQueue,
  type Submission,
  type SubmitMiddleware,
  type PreparedTask,
} from './queue.js';
export { createWorker, Worker, type WorkerOptions, type StopOptions, type TaskMiddleware, type TaskContext, type LifecycleHook } from './worker.js';
export type { WorkerEvents, ActiveEvent, CompletedEvent, FailedEvent, DeadEvent, WorkerErrorEvent, DeadLetterReason } from './worker-events.js';
export { type BoundTaskQueue, UnitOfWorkSettledError, BoundQueueMisuseError } from './bound-queue.js';
export {
  type RequestTransaction,
  type RequestTransactionFactory,
  plainTransaction,
  RequestScope,
  CommitFailedError,
} from './request/request-transaction.js';
export { UnitOfWork, currentUnitOfWork, type UnitOfWorkOptions, type UnitOfWorkState, type StageTasks } from './unit-of-work.js';
export type { ResultStore, TaskStatus, TaskState, StoredStatus, StoredError, EnqueuedRecord } from './result-store.js';
export { isFinished } from './result-store.js';
export { memoryResultStore, MemoryResultStore, type MemoryResultStoreOptions } from './memory-result-store.js';
export { currentTask, maybeCurrentTask, type CurrentTask } from './context.js';
export { type TaskOptions, type SubmitOptions, type Backoff, parseDuration } from './task-options.js';
export { type Envelope, type MetaValue, ENVELOPE_VERSION, HEADER, parseEnvelope } from './envelope.js';
export type { Codec, EncodeContext, DecodeContext } from './codecs/types.js';
export { CodecSet } from './codecs/codec-set.js';
export { encodeArgs } from './codecs/encode.js';
export { decodeArgs } from './codecs/decode.js';
export { builtinCodecs } from './codecs/builtin.js';
export {
  TaskRequest,
  RouteError,
  checkRequestContext,
  TRAVELLING_HEADERS,
  type RequestUrlContext,
  type UrlHelpers,
  type TravellingHeader,
} from './request/task-request.js';
export { requestCodec, REQUEST_CONTEXT, type ContextualRequest } from './request/request-codec.js';
export type { Transport, OutgoingMessage, Delivery, DeadLetter, DeadLetterRecord, DeadLetterStore, ConsumeOptions, Subscription, MessageHeaders } from './transport.js';
export { memory, MemoryTransport, type MemoryTransportOptions } from './transports/memory/memory-transport.js';
export { amqp, AmqpTransport, type AmqpTransportOptions } from './transports/amqp/amqp-transport.js';
export type { QueueType } from './transports/amqp/topology.js';
export type { SigningKey } from './signing.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';
export { redactUrl } from './internal/redact.js';
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
  UnpublishableMessageError,
  ClosedError,
  NonRetryableError,
  TaskTimeoutError,
  MessageExpiredError,
  NoTaskContextError,
  errorCode,
} from './errors.js';
export { PrefixClashError } from './errors.js';
export { publicStatus, isPublicError, TASK_ID_PATTERN, type PublicTaskStatus, type PublicStatusOptions } from './public-status.js';
export {
  resolveHttpAdapterOptions,
  checkRoutes,
  type HttpAdapterOptions,
  type ResolvedHttpAdapterOptions,
} from './request/http-options.js';
export {
  BadRequestHostError,
  parseHost,
  parsePort,
  isValidHost,
  resolveAllowedHosts,
  DEVELOPMENT_HOSTS,
  type AllowedHosts,
  type HostAndPort,
} from './request/host-check.js';
export { requestUrlContext, type RequestOrigin, type UrlContextOptions } from './request/url-context.js';
export {
  resolveStatusRoute,
  checkStatusRouteOptions,
  answerTaskStatus,
  type StatusRouteOptions,
  type ResolvedStatusRoute,
  type StatusAnswer,
  type StatusHeaders,
  type UnknownTaskBody,
} from './request/status-route.js';
