/**
 * Every error code of every taskq package, in one place. A code is stable:
 * callers branch on it (`errorCode(error) === 'TASKQ_CLOSED'`), logs and
 * status records keep it, so it is never renamed or reused for another
 * condition. `docs/errors.md` is generated from this map
 * (`npm run docs:errors`), and a test checks that every code the sources use
 * is listed here.
 */

/** What the catalogue says about one code. */
export interface ErrorCodeInfo {
  /** The package whose code it is. */
  readonly package:
    | '@taskq/core'
    | '@taskq/http'
    | '@taskq/typeorm'
    | '@taskq/express'
    | '@taskq/fastify'
    | '@taskq/nest'
    | '@taskq/dashboard';
  /** The error class that carries it, or null for a code that is only sent in an HTTP body. */
  readonly error: string | null;
  /** One line: what happened (and, where short, what to do). */
  readonly summary: string;
}

/** The catalogue of error codes. Keys are the codes; see {@link ErrorCodeInfo}. */
export const ERROR_CODES = {
  // @taskq/core: registry, queue, codecs
  TASKQ_UNREGISTERED_TASK: {
    package: '@taskq/core',
    error: 'UnregisteredTaskError',
    summary: 'A function was submitted (or a task name received) that no TaskRegistry entry knows.',
  },
  TASKQ_DUPLICATE_TASK: {
    package: '@taskq/core',
    error: 'DuplicateTaskError',
    summary: 'Registering would make a task name or a function ambiguous.',
  },
  TASKQ_UNSERIALIZABLE_ARGUMENT: {
    package: '@taskq/core',
    error: 'UnserializableArgumentError',
    summary: 'A task argument cannot be encoded; `path` names it.',
  },
  TASKQ_DECODE_FAILED: {
    package: '@taskq/core',
    error: 'DecodeError',
    summary: 'A received message, or a part of it, could not be decoded.',
  },
  TASKQ_INVALID_OPTION: {
    package: '@taskq/core',
    error: 'InvalidOptionError',
    summary: 'An option is invalid; `option` names it. Used by every package.',
  },
  TASKQ_PAYLOAD_TOO_LARGE: {
    package: '@taskq/core',
    error: 'PayloadTooLargeError',
    summary: 'The encoded task is larger than `maxPayloadBytes`.',
  },
  TASKQ_CLOSED: {
    package: '@taskq/core',
    error: 'ClosedError',
    summary: 'The queue, worker or transport was used after it was closed.',
  },
  TASKQ_UNIT_OF_WORK_CLOSED: {
    package: '@taskq/core',
    error: 'UnitOfWorkClosedError',
    summary: 'A submit, commit or rollback reached a unit of work that is already committed or rolled back.',
  },
  TASKQ_REQUEST_SETTLED: {
    package: '@taskq/core',
    error: 'UnitOfWorkSettledError',
    summary: "A request's queue was used after its unit of work settled (the response had started).",
  },
  TASKQ_REQUEST_QUEUE_MISUSE: {
    package: '@taskq/core',
    error: 'BoundQueueMisuseError',
    summary: "`use()` or `close()` was called on a request's queue view instead of the application queue.",
  },
  TASKQ_RESULT_TIMEOUT: {
    package: '@taskq/core',
    error: 'ResultTimeoutError',
    summary: '`handle.result()` gave up: the task did not finish within its timeout.',
  },
  TASKQ_TASK_FAILED: {
    package: '@taskq/core',
    error: 'TaskFailedError',
    summary: '`handle.result()` found the task dead-lettered instead of returning.',
  },
  // @taskq/core: transports
  TASKQ_TRANSPORT: { package: '@taskq/core', error: 'TransportError', summary: 'The broker or the transport failed.' },
  TASKQ_PUBLISH_TIMEOUT: {
    package: '@taskq/core',
    error: 'PublishTimeoutError',
    summary: 'The broker did not confirm a publish within `publishTimeout`.',
  },
  TASKQ_PUBLISH_UNROUTABLE: {
    package: '@taskq/core',
    error: 'PublishUnroutableError',
    summary: 'The broker could not route a message: its queue does not exist.',
  },
  TASKQ_PUBLISH_REFUSED: {
    package: '@taskq/core',
    error: 'PublishRefusedError',
    summary: 'The broker refused a message (nack) on every try until `publishTimeout` was up.',
  },
  TASKQ_UNPUBLISHABLE_MESSAGE: {
    package: '@taskq/core',
    error: 'UnpublishableMessageError',
    summary: 'This one message cannot be published as it is (headers or size); others are not affected.',
  },
  // @taskq/core: worker and tasks
  TASKQ_WORKER_STARTED: {
    package: '@taskq/core',
    error: 'WorkerStartedError',
    summary: 'The worker was started twice, or configured after `start()`.',
  },
  TASKQ_WORKER_STOPPING: {
    package: '@taskq/core',
    error: 'WorkerStoppingError',
    summary: "The worker stopped before the task finished; the task's signal is aborted with it.",
  },
  TASKQ_NON_RETRYABLE: {
    package: '@taskq/core',
    error: 'NonRetryableError',
    summary: 'Thrown by a task to fail at once, without further attempts.',
  },
  TASKQ_TASK_TIMEOUT: {
    package: '@taskq/core',
    error: 'TaskTimeoutError',
    summary: "An attempt ran past its `timeout`; the task's signal was aborted.",
  },
  TASKQ_RATE_LIMITED: {
    package: '@taskq/core',
    error: 'RateLimitedError',
    summary:
      'Thrown by a task when the remote side said "slow down": its rate limits hold for retryAfter on every worker and it runs again without using up an attempt.',
  },
  TASKQ_TASK_CANCELLED: {
    package: '@taskq/core',
    error: 'TaskCancelledError',
    summary: 'The task was cancelled while it ran; its signal was aborted and it is neither retried nor dead-lettered.',
  },
  TASKQ_NO_CONTROL_PLANE: {
    package: '@taskq/core',
    error: 'NoControlPlaneError',
    summary: 'Pause, resume or cancel was asked of a transport without a control plane (a custom transport).',
  },
  TASKQ_MESSAGE_EXPIRED: {
    package: '@taskq/core',
    error: 'MessageExpiredError',
    summary: "A message became due longer ago than the worker's `maxMessageAge`; it is dead-lettered, not run.",
  },
  TASKQ_NO_TASK_CONTEXT: {
    package: '@taskq/core',
    error: 'NoTaskContextError',
    summary: '`currentTask()` was called outside a running task.',
  },
  TASKQ_PREFIX_CLASH: {
    package: '@taskq/core',
    error: 'PrefixClashError',
    summary:
      "A worker of another application (another task set) consumes this prefix's queues; give each application its own prefix or vhost.",
  },
  TASKQ_UNSUPPORTED_VERSION: {
    package: '@taskq/core',
    error: 'UnsupportedVersionError',
    summary:
      'A message is written in an envelope version newer than the worker reads: it waits for an upgraded worker, then is dead-lettered `unsupported-version` (upgrade the workers, then `taskq dead retry`).',
  },
  // @taskq/core: schedules
  TASKQ_DUPLICATE_SCHEDULE: {
    package: '@taskq/core',
    error: 'DuplicateScheduleError',
    summary: "Two schedules given to one scheduler have the same id (their ticks' task ids derive from it).",
  },
  TASKQ_NO_LEADERSHIP: {
    package: '@taskq/core',
    error: 'NoLeadershipError',
    summary:
      'A scheduler has a transport that cannot elect a leader and no tick claims; use amqp() or memory(), or give it `claims`.',
  },
  TASKQ_NO_TYPESCRIPT_LOADER: {
    package: '@taskq/core',
    error: 'TypeScriptLoaderMissingError',
    summary:
      '`taskq worker` was given a TypeScript module and no loader (tsx) was found; install one or run the built .js.',
  },
  // @taskq/core: requests as task arguments
  TASKQ_ROUTE: {
    package: '@taskq/core',
    error: 'RouteError',
    summary: 'A URL helper of a request argument was given a route or parameters it cannot build.',
  },
  // @taskq/http: what every HTTP adapter shares
  TASKQ_BAD_REQUEST_HOST: {
    package: '@taskq/http',
    error: 'BadRequestHostError',
    summary: "The request's Host is not one of `allowedHosts`; answered 400.",
  },
  TASKQ_COMMIT_FAILED: {
    package: '@taskq/http',
    error: 'CommitFailedError',
    summary: "The request's unit of work could not be committed; its tasks were dropped (answered 500).",
  },
  TASKQ_UNKNOWN_TASK: {
    package: '@taskq/http',
    error: null,
    summary: 'The status route has no task with this id (the 404 body).',
  },
  TASKQ_NO_REQUEST_UNIT_OF_WORK: {
    package: '@taskq/http',
    error: 'NoRequestUnitOfWorkError',
    summary: "A request's unit of work was asked for on a request that has none (Express, Fastify and Nest).",
  },
  // @taskq/typeorm
  TASKQ_TYPEORM_SETUP: {
    package: '@taskq/typeorm',
    error: 'TypeormSetupError',
    summary: "The DataSource is not initialized or lacks taskq's tables or an entity.",
  },
  TASKQ_ENTITY_NOT_SAVED: {
    package: '@taskq/typeorm',
    error: 'EntityNotSavedError',
    summary: 'A submitted entity has never been saved.',
  },
  TASKQ_ENTITY_DIRTY: {
    package: '@taskq/typeorm',
    error: 'EntityDirtyError',
    summary: "A submitted entity has unsaved changes and the codec's policy is `dirty: 'reject'`.",
  },
  TASKQ_ENTITY_NOT_ALLOWED: {
    package: '@taskq/typeorm',
    error: 'EntityNotAllowedError',
    summary: "An entity class is not in the entity codec's allow-list.",
  },
  TASKQ_ENTITY_KEY_INVALID: {
    package: '@taskq/typeorm',
    error: 'EntityKeyError',
    summary: "An entity's key does not fit its primary columns.",
  },
  TASKQ_ENTITY_NOT_FOUND: {
    package: '@taskq/typeorm',
    error: 'EntityNotFoundError',
    summary: "A task argument's entity no longer exists when the worker loads it.",
  },
  TASKQ_ENTITY_LOAD_FAILED: {
    package: '@taskq/typeorm',
    error: 'EntityLoadError',
    summary: "A task argument's entity could not be loaded.",
  },
  TASKQ_NO_ENTITY_MANAGER: {
    package: '@taskq/typeorm',
    error: 'NoEntityManagerError',
    summary: '`currentEntityManager()` was called outside a taskq database transaction.',
  },
  TASKQ_NO_TRANSACTION: {
    package: '@taskq/typeorm',
    error: 'NoTransactionError',
    summary: '`joinTransaction()` was given an EntityManager outside an open database transaction.',
  },
  TASKQ_NESTED_TRANSACTION: {
    package: '@taskq/typeorm',
    error: 'NestedTransactionError',
    summary:
      'A second database transaction was opened on a SQLite DataSource that has one open here; use `transactional()`.',
  },
  TASKQ_NO_UNIT_OF_WORK: {
    package: '@taskq/typeorm',
    error: 'NoUnitOfWorkError',
    summary: 'A database transaction opened without a queue was asked for its unit of work.',
  },
  TASKQ_TRANSACTION_CLOSED: {
    package: '@taskq/typeorm',
    error: 'TransactionClosedError',
    summary: 'A database transaction was committed after it was already committing, committed or rolled back.',
  },
  TASKQ_RELAY_STARTED: {
    package: '@taskq/typeorm',
    error: 'OutboxRelayStartedError',
    summary: 'The outbox relay was started twice; it starts once.',
  },
  TASKQ_OUTBOX_ROW_MALFORMED: {
    package: '@taskq/typeorm',
    error: 'OutboxRowMalformedError',
    summary: 'An outbox row cannot be turned into a message; it is set aside, not published.',
  },
  // HTTP adapters
  TASKQ_EXPRESS_MOUNTED_TWICE: {
    package: '@taskq/express',
    error: 'MountedTwiceError',
    summary: '`taskq()` ran twice for one request; mount it once.',
  },
  TASKQ_FASTIFY_ALREADY_REGISTERED: {
    package: '@taskq/fastify',
    error: 'AlreadyRegisteredError',
    summary: '`taskqPlugin` was registered twice in one encapsulation context.',
  },
  // @taskq/nest
  TASKQ_NEST_TASK_DECLARATION: {
    package: '@taskq/nest',
    error: 'TaskDeclarationError',
    summary: 'A `@Task()` method cannot be registered as written.',
  },
  TASKQ_NEST_AMBIGUOUS_PROVIDER: {
    package: '@taskq/nest',
    error: 'AmbiguousTaskProviderError',
    summary: 'One `@Task()` method belongs to more than one provider instance.',
  },
  TASKQ_NEST_DUPLICATE_MODULE: {
    package: '@taskq/nest',
    error: 'DuplicateTaskqModuleError',
    summary: '`TaskqModule.forRoot()` was imported more than once in one application.',
  },
  TASKQ_NEST_MIDDLEWARE: {
    package: '@taskq/nest',
    error: 'MiddlewareResolutionError',
    summary: 'A middleware class named in `worker.middleware` could not be resolved from the container.',
  },
  TASKQ_NEST_NO_REQUEST_CONTEXT: {
    package: '@taskq/nest',
    error: 'NoRequestContextError',
    summary: '`@RequestUrls()` was used on a route without the taskq interceptor in front of it.',
  },
  TASKQ_NEST_ACCEPTED: {
    package: '@taskq/nest',
    error: 'AcceptedResultError',
    summary: 'An `@Accepted()` handler returned something other than a TaskHandle.',
  },
  TASKQ_NEST_UNDECLARED_QUEUE: {
    package: '@taskq/nest',
    error: 'UndeclaredQueueError',
    summary:
      '`@InjectQueue(name)` names a queue that no `TaskqModule.forRoot()`/`forFeature()` visible to the provider declares.',
  },
  TASKQ_NEST_EVENT_HANDLER: {
    package: '@taskq/nest',
    error: 'TaskEventHandlerError',
    summary: 'An `@OnTaskEvent()` method cannot be wired as written (unknown event, request-scoped provider).',
  },
  TASKQ_NEST_TYPEORM: {
    package: '@taskq/nest',
    error: 'TypeormIntegrationError',
    summary:
      '`TaskqTypeormModule` cannot be wired as configured (a second request unit of work next to `http.unitOfWork`).',
  },
  // @taskq/dashboard
  TASKQ_DASHBOARD_FORBIDDEN: {
    package: '@taskq/dashboard',
    error: 'DashboardForbiddenError',
    summary:
      "The dashboard's `authorize` refused the request, or none is set and the request is not a read-only one from loopback (answered 403).",
  },
  TASKQ_DASHBOARD_CSRF: {
    package: '@taskq/dashboard',
    error: 'DashboardCsrfError',
    summary:
      "A dashboard action came without the page's CSRF token, or from another site (answered 403); reload the page.",
  },
  TASKQ_DASHBOARD_READ_ONLY: {
    package: '@taskq/dashboard',
    error: 'DashboardReadOnlyError',
    summary: 'A dashboard action (retry, cancel, pause, resume, purge) was refused: the dashboard is `readOnly` (403).',
  },
} as const satisfies Record<`TASKQ_${string}`, ErrorCodeInfo>;

/** Every taskq error code: the keys of {@link ERROR_CODES}. */
export type TaskqErrorCode = keyof typeof ERROR_CODES;
