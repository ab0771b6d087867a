import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';
import {
  type Codec,
  InvalidOptionError,
  type Logger,
  type ResultStore,
  type Schedule,
  type TickClaims,
  type SigningKey,
  type SubmitOptions,
  type TaskContext,
  type TaskOptions,
  TaskRegistry,
  type Transport,
} from '@taskq/core';
import { parseDuration } from '@taskq/core/adapter';
import {
  type AllowedHosts,
  checkRoutes,
  checkScopeOptions,
  checkStatusRouteOptions,
  type RequestUnitOfWorkFactory,
  type ResolvedStatusRoute,
  resolveAllowedHosts,
  type StatusRouteOptions,
} from '@taskq/http';
import { isMiddlewareClass, type TaskqMiddlewareEntry } from './middleware.js';
import { DEFAULT_QUEUE_NAME } from './tokens.js';

/** Worker mode: the application context also runs tasks. */
export interface TaskqWorkerOptions {
  /**
   * Most tasks running at once (also the broker prefetch).
   * @defaultValue `10`
   */
  readonly concurrency?: number;
  /**
   * Logical queues to consume, each a name or `{ name, concurrency }`: a
   * queue with a concurrency of its own gets its own consumer, so a slow
   * queue cannot take the slots of the others (BullMQ's per-processor
   * concurrency).
   * @defaultValue `'default'` plus every queue declared in `forRoot({ queues })` and `forFeature({ queues })`
   */
  readonly queues?: readonly (string | TaskqWorkerQueue)[];
  /** Per-task middleware, outermost first: `(ctx, next)` functions or injectable {@link TaskqMiddleware} classes. */
  readonly middleware?: readonly TaskqMiddlewareEntry[];
  /** Task option defaults (attempts, backoff, timeout) for tasks that set none. */
  readonly defaults?: TaskOptions;
  /** Returns false for errors that must not be retried. */
  readonly retryIf?: (error: unknown, task: TaskContext) => boolean;
  /** Extra accepted signing keys (key rotation); the module's `signingKey` is always accepted. */
  readonly signingKeys?: readonly SigningKey[];
  /** See `WorkerOptions.ackDeadline` in @taskq/core. @defaultValue `1_800_000` */
  readonly ackDeadline?: number | string | false;
  /**
   * How long `app.close()` waits for in-flight tasks before their signals
   * abort and unfinished messages go back to the queue.
   * @defaultValue `30_000`
   */
  readonly shutdownTimeout?: number | string;
  /**
   * Start consuming when the application boots. `false` leaves it to you
   * (`worker.start()`), e.g. to start only after a warm-up.
   * @defaultValue `true`
   */
  readonly autoStart?: boolean;
  /** @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
}

/** A queue a worker consumes with settings of its own. */
export interface TaskqWorkerQueue {
  readonly name: string;
  /**
   * Most of this queue's tasks running at once, on a consumer of its own.
   * @defaultValue the queue's declared `concurrency`, else it shares `worker.concurrency` with the other queues
   */
  readonly concurrency?: number;
}

/** HTTP integration: the per-request unit of work and the request codec. */
export interface TaskqHttpOptions {
  /**
   * The unit of work around every HTTP handler: its tasks are published
   * when the handler succeeded and dropped when it threw or its status
   * matches `rollbackOn`. A function opens it, e.g.
   * `(queue) => databaseUnitOfWork(dataSource, queue)` from @taskq/typeorm
   * (returning `undefined` gives a request a plain one); `false` opens none,
   * so submits publish at once.
   * @defaultValue a plain unit of work (`queue.begin()`) for every request
   */
  readonly unitOfWork?: RequestUnitOfWorkFactory | false;
  /**
   * Whether a response with this status drops the request's tasks (and
   * rolls back its database transaction, if any). A handler that threw is
   * dropped whatever its status.
   * @defaultValue `(status) => status >= 500`
   */
  readonly rollbackOn?: (status: number) => boolean;
  /** Named routes a task can build with `request.routeUrl(name, params)`, e.g. `{ user: '/users/:id' }`. */
  readonly routes?: Readonly<Record<string, string>>;
  /**
   * The hosts this app is served under, checked before every handler (the
   * Host header, or X-Forwarded-Host when the platform trusts the proxy):
   * anything else is answered 400 `TASKQ_BAD_REQUEST_HOST`, so links,
   * `Location` headers and tasks never name a host the client made up.
   * Patterns as Django's ALLOWED_HOSTS: `'app.example.com'` (any port),
   * `'.example.com'` (the domain and its subdomains), `'localhost:3000'`
   * (that port only), `'*'` (any valid host: only when a proxy in front
   * already refuses unknown hosts).
   * @defaultValue `['.localhost', '127.0.0.1', '[::1]']`; required in an HTTP application when `NODE_ENV` is
   * `'production'`
   */
  readonly allowedHosts?: readonly string[];
  /**
   * How the route mounted with the module's `statusRoute` answers:
   * `authorize(request, status)` (a refusal is the 404 of an unknown id;
   * without it the task id is a bearer token), `exposeErrors`, `internals`.
   * @defaultValue any holder of a task id reads its status; errors show code and name only
   */
  readonly statusRoute?: StatusRouteOptions<unknown>;
}

/** Options of `TaskqModule.forRoot()` (and what a `forRootAsync()` factory returns). */
export interface TaskqModuleOptions {
  /** Where tasks go: `amqp({ url })` or `memory()`. Nothing connects until the first submit or the worker's start. */
  readonly transport: Transport;
  /** Plain-function tasks (a @taskq/core registry) next to the `@Task()` methods the explorer finds. */
  readonly registry?: TaskRegistry;
  /** Extra argument codecs (e.g. @taskq/typeorm's entity codec); the request codec is built in. */
  readonly codecs?: readonly Codec[];
  /** Status and results for `queue.status(id)`; use the same store in web and worker processes. */
  readonly store?: ResultStore;
  /** Submit options for every task unless a task or `with()` overrides them. */
  readonly defaults?: SubmitOptions;
  /** Largest encoded task in bytes. @defaultValue `1_048_576` */
  readonly maxPayloadBytes?: number;
  /** HMAC key: tasks are signed, and the worker runs only tasks signed with it. */
  readonly signingKey?: SigningKey;
  /** Run a worker in this application context. Omit it in a web-only process. */
  readonly worker?: TaskqWorkerOptions;
  readonly http?: TaskqHttpOptions;
  /**
   * Run these schedules in this application context: a scheduler (`createScheduler` of @taskq/core, on the module's
   * queue) starts at bootstrap and stops first at shutdown. Any number of contexts may run the same schedules: each
   * tick is submitted once.
   */
  readonly scheduler?: TaskqSchedulerOptions;
}

/** The schedules an application context runs (see {@link TaskqModuleOptions.scheduler}). */
export interface TaskqSchedulerOptions {
  /**
   * `schedule(id, spec, fn, ...args)` of @taskq/core; `fn` is a function of the module's `registry`, or the method of
   * a `@Task()` provider (`ReportsService.prototype.build`).
   */
  readonly schedules: readonly Schedule[];
  /** Tick claims in the database instead of a leader (`sqlTickClaims()` of @taskq/typeorm). */
  readonly claims?: TickClaims;
  /** Start at bootstrap; `false` creates it stopped. @defaultValue `true` */
  readonly autoStart?: boolean;
}

/**
 * A named queue: `@InjectQueue(name)` injects a view of the module's queue that submits to the logical queue `name`.
 */
export interface TaskqQueueDefinition {
  readonly name: string;
  /** Submit options of this queue. @defaultValue `{ queue: name }` */
  readonly defaults?: SubmitOptions;
  /**
   * When this context's worker consumes the queue: most of its tasks running
   * at once, on a consumer of its own. `worker.queues` can override it.
   * @defaultValue the queue shares `worker.concurrency` with the other queues
   */
  readonly concurrency?: number;
}

/** Options of `TaskqModule.forFeature()`. */
export interface TaskqFeatureOptions {
  /** Queues this module injects with `@InjectQueue(name)`; the worker consumes them too unless `worker.queues` says otherwise. */
  readonly queues: readonly (string | TaskqQueueDefinition)[];
}

/** Options that shape the module itself, so they are given directly, never by an async factory. */
export interface TaskqStaticOptions {
  /** Named queues besides the default one, each injectable with `@InjectQueue(name)`. */
  readonly queues?: readonly (string | TaskqQueueDefinition)[];
  /**
   * Mount `GET <statusRoute>/:id`, answering the task's status (404 for an
   * unknown id). Needs a `store`. Off by default. Whoever has a task id reads
   * its status unless `http.statusRoute.authorize` says otherwise.
   */
  readonly statusRoute?: string;
}

/** Implemented by a class given to `forRootAsync({ useClass })` or `useExisting`. */
export interface TaskqOptionsFactory {
  createTaskqOptions(): TaskqModuleOptions | Promise<TaskqModuleOptions>;
}

/** Options of `TaskqModule.forRootAsync()`: one of `useFactory`, `useClass`, `useExisting`. */
export interface TaskqModuleAsyncOptions extends TaskqStaticOptions, Pick<ModuleMetadata, 'imports'> {
  readonly useFactory?: (...args: never[]) => TaskqModuleOptions | Promise<TaskqModuleOptions>;
  readonly inject?: readonly (InjectionToken | OptionalFactoryDependency)[];
  readonly useClass?: Type<TaskqOptionsFactory>;
  readonly useExisting?: InjectionToken<TaskqOptionsFactory>;
}

/** @internal Options after validation, with defaults applied. */
export interface ResolvedTaskqOptions extends Omit<TaskqModuleOptions, 'worker' | 'http'> {
  readonly worker: ResolvedWorkerOptions | undefined;
  readonly http: Required<Pick<TaskqHttpOptions, 'routes' | 'rollbackOn'>> &
    Pick<TaskqHttpOptions, 'unitOfWork'> & {
      /** Undefined when not given: the HTTP application resolves the default (or refuses, in production) at init. */
      readonly allowedHosts: AllowedHosts | undefined;
      readonly statusRoute: Omit<ResolvedStatusRoute<unknown>, 'queue'>;
    };
  readonly queueNames: readonly string[];
  /** The queues declared in `forRoot({ queues })`. */
  readonly queueDefinitions: readonly TaskqQueueDefinition[];
}

/** @internal */
export interface ResolvedWorkerOptions
  extends Omit<TaskqWorkerOptions, 'shutdownTimeout' | 'autoStart' | 'queues' | 'middleware'> {
  /** Undefined: every declared queue, known once the modules are scanned. */
  readonly queues: readonly TaskqWorkerQueue[] | undefined;
  readonly middleware: readonly TaskqMiddlewareEntry[];
  readonly shutdownTimeoutMs: number;
  readonly autoStart: boolean;
}

/** @internal Validates the static options once, when the module is declared. */
export function resolveQueueDefinitions(
  queues: TaskqStaticOptions['queues'],
  option = 'queues',
): TaskqQueueDefinition[] {
  if (queues === undefined) return [];
  if (!Array.isArray(queues))
    throw new InvalidOptionError(option, 'expected an array of queue names or { name, defaults, concurrency }');
  const seen = new Set<string>([DEFAULT_QUEUE_NAME]);
  return queues.map((entry, i) => {
    const definition: TaskqQueueDefinition = typeof entry === 'string' ? { name: entry } : entry;
    if (typeof definition?.name !== 'string' || !/^[A-Za-z0-9_.\-:]{1,200}$/.test(definition.name)) {
      throw new InvalidOptionError(
        `${option}[${i}]`,
        `expected a queue name (letters, digits, '_', '.', '-', ':'), got ${JSON.stringify(entry)}`,
      );
    }
    checkConcurrency(definition.concurrency, `${option}[${i}].concurrency`);
    if (seen.has(definition.name)) {
      throw new InvalidOptionError(
        `${option}[${i}]`,
        `the queue "${definition.name}" is declared twice${definition.name === DEFAULT_QUEUE_NAME ? ' (the default queue always exists)' : ''}`,
      );
    }
    seen.add(definition.name);
    return definition;
  });
}

function checkConcurrency(value: unknown, option: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535)
    throw new InvalidOptionError(option, `expected an integer 1-65535, got ${JSON.stringify(value)}`);
}

/** @internal Checks `worker.queues`: names or `{ name, concurrency }`. */
function resolveWorkerQueues(queues: TaskqWorkerOptions['queues']): readonly TaskqWorkerQueue[] | undefined {
  if (queues === undefined) return undefined;
  if (!Array.isArray(queues) || queues.length === 0)
    throw new InvalidOptionError('worker.queues', 'expected a non-empty array of queue names or { name, concurrency }');
  return queues.map((entry, i) => {
    const queue: TaskqWorkerQueue = typeof entry === 'string' ? { name: entry } : entry;
    if (typeof queue?.name !== 'string' || queue.name.length === 0)
      throw new InvalidOptionError(`worker.queues[${i}]`, `expected a queue name, got ${JSON.stringify(entry)}`);
    checkConcurrency(queue.concurrency, `worker.queues[${i}].concurrency`);
    return queue;
  });
}

/** @internal */
export function resolveStatusRoute(path: TaskqStaticOptions['statusRoute']): string | undefined {
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || !/^\/?[A-Za-z0-9_\-./]+$/.test(path)) {
    throw new InvalidOptionError('statusRoute', `expected a path such as 'tasks', got ${JSON.stringify(path)}`);
  }
  return `/${path.replace(/^\/+|\/+$/g, '')}`;
}

/** @internal Validates the module options once, failing with the option's name. */
export function resolveTaskqOptions(
  options: TaskqModuleOptions,
  queues: readonly TaskqQueueDefinition[],
): ResolvedTaskqOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'TaskqModule needs options: { transport, ... }');
  if (
    !options.transport ||
    typeof options.transport.publish !== 'function' ||
    typeof options.transport.consume !== 'function'
  ) {
    throw new InvalidOptionError(
      'transport',
      'expected a transport such as amqp({ url }) or memory() from @taskq/core',
    );
  }
  if (options.registry !== undefined && !(options.registry instanceof TaskRegistry)) {
    throw new InvalidOptionError('registry', 'expected a TaskRegistry from @taskq/core (one installed copy of it)');
  }
  if (options.codecs !== undefined && !Array.isArray(options.codecs))
    throw new InvalidOptionError('codecs', 'expected an array of codecs');
  const http = options.http ?? {};
  // `false` turns the per-request unit of work off; anything else is checked as every adapter's `unitOfWork` option.
  const { unitOfWork, rollbackOn } = checkScopeOptions(
    { unitOfWork: http.unitOfWork === false ? undefined : http.unitOfWork, rollbackOn: http.rollbackOn },
    'http.',
  );
  const queueNames = [DEFAULT_QUEUE_NAME, ...queues.map((q) => q.name)];
  if (
    options.scheduler !== undefined &&
    (typeof options.scheduler !== 'object' || options.scheduler === null || !Array.isArray(options.scheduler.schedules))
  )
    throw new InvalidOptionError('scheduler', 'expected { schedules: [schedule(...), ...], claims? }');
  return {
    ...options,
    worker: options.worker === undefined ? undefined : resolveWorkerOptions(options.worker),
    http: {
      unitOfWork: http.unitOfWork === false ? false : unitOfWork,
      rollbackOn,
      routes: checkRoutes(http.routes, 'http.routes'),
      allowedHosts:
        http.allowedHosts === undefined ? undefined : resolveAllowedHosts(http.allowedHosts, 'http.allowedHosts'),
      statusRoute: checkStatusRouteOptions(http.statusRoute, 'http.statusRoute.'),
    },
    queueNames,
    queueDefinitions: queues,
  };
}

function resolveWorkerOptions(worker: TaskqWorkerOptions): ResolvedWorkerOptions {
  if (typeof worker !== 'object' || worker === null)
    throw new InvalidOptionError('worker', 'expected worker options such as { concurrency: 8 }');
  const middleware = worker.middleware ?? [];
  if (!Array.isArray(middleware))
    throw new InvalidOptionError('worker.middleware', 'expected an array of middleware functions or classes');
  middleware.forEach((entry, i) => {
    if (typeof entry !== 'function')
      throw new InvalidOptionError(
        `worker.middleware[${i}]`,
        'expected a (ctx, next) => Promise<void> function or a class with use(ctx, next)',
      );
    if (!isMiddlewareClass(entry) && /^class[\s{]/.test(Function.prototype.toString.call(entry))) {
      throw new InvalidOptionError(`worker.middleware[${i}]`, `the class ${entry.name} has no use(ctx, next) method`);
    }
  });
  if (worker.autoStart !== undefined && typeof worker.autoStart !== 'boolean')
    throw new InvalidOptionError('worker.autoStart', `expected a boolean, got ${JSON.stringify(worker.autoStart)}`);
  if (worker.signingKeys !== undefined && !Array.isArray(worker.signingKeys))
    throw new InvalidOptionError('worker.signingKeys', 'expected an array of keys');
  const { shutdownTimeout, autoStart, queues, ...rest } = worker;
  return {
    ...rest,
    queues: resolveWorkerQueues(queues),
    middleware,
    shutdownTimeoutMs: parseDuration(shutdownTimeout ?? 30_000, 'worker.shutdownTimeout'),
    autoStart: autoStart ?? true,
  };
}
