export {
  taskqEntities,
  OutboxEntity,
  InboxEntity,
  StatusEntity,
  KeyEntity,
  ScheduleTickEntity,
  TABLES,
  type OutboxRow,
  type InboxRow,
  type StatusRow,
  type KeyRow,
  type ScheduleTickRow,
} from './entities.js';
export {
  taskqMigrations,
  TaskqTables1735689600000,
  TaskqOutboxPublishAttempts1767225600000,
  TaskqStatusWorkerId1780000000000,
  TaskqTaskIndex1780272000000,
  TaskqScheduleTicks1780358400000,
  TaskqStatusHistory1780444800000,
} from './migrations.js';
export { sqlTickClaims, type SqlTickClaimsOptions } from './tick-claims.js';
export {
  entityCodec,
  type EntityCodecOptions,
  type EntityTarget,
  type DirtyPolicy,
  type EncodedEntity,
} from './entity-codec.js';
export {
  transactional,
  databaseUnitOfWork,
  joinTransaction,
  currentEntityManager,
  maybeCurrentEntityManager,
  type TypeormRequestUnitOfWork,
  type TransactionOptions,
  type TransactionState,
  type IsolationLevel,
} from './transaction.js';
export { taskTransaction, type TaskTransactionOptions } from './inbox.js';
export { outboxRelay, OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
export { sqlResultStore, SqlResultStore, type SqlResultStoreOptions } from './result-store.js';
export {
  EntityNotSavedError,
  EntityDirtyError,
  EntityNotFoundError,
  EntityLoadError,
  EntityNotAllowedError,
  EntityKeyError,
  NoEntityManagerError,
  NoTransactionError,
  TypeormSetupError,
  NestedTransactionError,
  NoUnitOfWorkError,
  TransactionClosedError,
  OutboxRelayStartedError,
} from './errors.js';
