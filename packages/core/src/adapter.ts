// The published .d.ts name Node types (Buffer, AbortSignal, Symbol.asyncDispose): load @types/node for the
// application even where its tsconfig lists no `types` (the TypeScript 6 default).
/// <reference types="node" preserve="true" />
/**
 * `@taskq/core/adapter`: what adapter and plugin authors build on — the HTTP
 * layer and framework adapters, @taskq/typeorm, custom transports, result
 * stores and codecs. Applications use the root entry, `@taskq/core`. What is
 * here is public and covered by an API report, but it may change in a minor
 * version, with a note in the changelog; see docs/adapter-api.md.
 *
 * @packageDocumentation
 */

// Units of work: staging tasks elsewhere (an outbox) and finding the open one.
export { currentUnitOfWork, type PreparedTask, type StageTasks, type UnitOfWorkOptions } from './unit-of-work.js';

// Requests as task arguments: the codec's marker, the wire checks, what travels.
export { requestCodec, REQUEST_CONTEXT, type ContextualRequest } from './request/request-codec.js';
export { checkRequestContext, TRAVELLING_HEADERS } from './request/task-request.js';
export { TASK_ID_PATTERN } from './internal/uuid.js';
// Host syntax, the same for the HTTP layer's checks and for request contexts decoded by workers.
export { parseHost, parsePort, isValidHost, type HostAndPort } from './request/host-syntax.js';

// The wire: for transports and outboxes that store or forward messages.
export { HEADER, type Envelope } from './envelope.js';
export type {
  OutgoingMessage,
  Delivery,
  DeadLetter,
  DeadLetterRecord,
  DeadLetterStore,
  ConsumeOptions,
  Subscription,
  MessageHeaders,
} from './transport.js';

// Result stores.
export { isFinished, type StoredStatus, type StoredError, type EnqueuedRecord } from './result-store.js';
export {
  historyStart,
  historyEnd,
  appendHistory,
  endHistory,
  readHistory,
  type HistoryEntry,
} from './internal/attempt-history.js';
export {
  checkListQuery,
  checkProgress,
  encodeCursor,
  emptyCounts,
  addCount,
  argsKeeper,
  lazyArgs,
  type KeepArgsOptions,
  type ListPosition,
} from './internal/task-index.js';

// Options parsed the way core parses them.
export { parseDuration } from './task-options.js';

// Loggers: the option checked and pino adapted the way core does it.
export { useLogger } from './logger.js';

// Diagnostics: an outbox relay reports its publishes as core's unit of work does.
export { publishWithDiagnostics } from './internal/traced-publish.js';
