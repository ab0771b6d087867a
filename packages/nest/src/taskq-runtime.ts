import { useLogger } from '@taskq/core/adapter';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type INestApplicationContext,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  createQueue,
  createScheduler,
  createWorker,
  type Scheduler,
  DuplicateTaskError,
  InvalidOptionError,
  type SigningKey,
  type TaskMiddleware,
  type TaskQueue,
  TaskRegistry,
  type Worker,
} from '@taskq/core';
import type { RequestUnitOfWorkFactory } from '@taskq/http';
import { MiddlewareResolutionError, TypeormIntegrationError } from './errors.js';
import { type CliOverrides, cliOverrides } from './internal/cli-context.js';
import { TASKQ_EXTENSION, type TaskqExtension } from './internal/extension.js';
import { nestLogger } from './internal/nest-logger.js';
import { type WorkerGroup, workerGroups } from './internal/worker-groups.js';
import { isMiddlewareClass, type TaskqMiddleware, type TaskqMiddlewareEntry } from './middleware.js';
import type { ResolvedTaskqOptions, ResolvedWorkerOptions, TaskqQueueDefinition } from './options.js';
import { ProviderTaskRegistry } from './provider-task-registry.js';
import { createTaskInvoker } from './task-invoker.js';
import { type DiscoveredEventHandler, type DiscoveredTask, TaskExplorer } from './task-explorer.js';
import { TASKQ_FEATURE_QUEUES } from './tokens.js';

/** @internal Token of the validated module options. */
export const TASKQ_OPTIONS = 'TaskqOptions';

/**
 * @internal The module's state in one application context: the queue, the
 * two registries and, in worker mode, the worker.
 *
 * Two registries because core's registry maps one id to one function: the
 * queue's maps each `@Task()` method's prototype function (what a caller
 * submits) to its id; the worker's maps the same id to an invoker that calls
 * the method on the container's instance. One context can both submit and
 * run (tests, small deployments) without the two meanings colliding.
 */
@Injectable()
export class TaskqRuntime
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  readonly registry = new ProviderTaskRegistry();
  readonly workerRegistry = new TaskRegistry();
  readonly queue: TaskQueue;
  /** The worker `@InjectWorker()` injects: starting and stopping it starts and stops the others. */
  readonly worker: Worker | undefined;
  /** Every worker of this context: one per queue with a concurrency of its own, one for the other queues. */
  readonly workers: readonly Worker[];
  /** Every queue declared in `forRoot()` and in the `forFeature()` modules of this application. */
  readonly declaredQueues: readonly TaskqQueueDefinition[];
  #tasks: readonly DiscoveredTask[] = [];
  #requestUnitOfWork: RequestUnitOfWorkFactory | false | undefined;
  #extensionMiddleware: TaskMiddleware[] = [];
  #workerOptions: ResolvedWorkerOptions | undefined;
  #closingFromCli = false;
  readonly #logger = new Logger('TaskqModule');

  constructor(
    @Inject(TASKQ_OPTIONS) readonly options: ResolvedTaskqOptions,
    @Inject(TaskExplorer) private readonly explorer: TaskExplorer,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
  ) {
    this.queue = createQueue({
      registry: this.registry,
      transport: options.transport,
      codecs: options.codecs,
      defaults: options.defaults,
      maxPayloadBytes: options.maxPayloadBytes,
      signingKey: options.signingKey,
      store: options.store,
    });
    // Value providers exist once the modules are scanned, so every forFeature() declaration is known before any
    // instance is built: the worker is created here, ready for @InjectWorker().
    this.declaredQueues = [
      ...options.queueDefinitions,
      ...explorer.instancesOf<readonly TaskqQueueDefinition[]>(TASKQ_FEATURE_QUEUES).flat(),
    ];
    this.#workerOptions = withCliOverrides(options.worker, cliOverrides());
    const groups = this.#workerOptions
      ? workerGroups(this.#workerOptions.queues, this.declaredQueues, this.#workerOptions.concurrency ?? 10)
      : [];
    this.workers = groups.map((group) => this.#createWorker(this.#workerOptions as ResolvedWorkerOptions, group));
    const [main, ...others] = this.workers;
    this.worker = main;
    if (main && others.length > 0) {
      main.onStartup(async () => {
        await Promise.all(others.map((worker) => worker.start()));
      });
      main.onShutdown(async () => {
        await Promise.all(others.map((worker) => worker.stop({ timeout: this.#workerOptions?.shutdownTimeoutMs })));
      });
    }
    this.#requestUnitOfWork = options.http.unitOfWork;
  }

  /** The request unit of work the interceptor opens: `http.unitOfWork`, else an integration module's. */
  get requestUnitOfWork(): RequestUnitOfWorkFactory | false | undefined {
    return this.#requestUnitOfWork;
  }

  /** The `@Task()` methods found at init. */
  get tasks(): readonly DiscoveredTask[] {
    return this.#tasks;
  }

  onModuleInit(): void {
    const explored = this.explorer.explore(TaskqRuntime);
    const { tasks, providers } = explored;
    for (const provider of providers) this.registry.noteProvider(provider.prototype, provider.className);
    const plain = this.options.registry;
    if (plain) {
      for (const id of plain.ids()) {
        const definition = plain.get(id);
        if (!definition) continue;
        this.registry.add(id, definition.fn, definition.options);
        this.workerRegistry.add(id, definition.fn, definition.options);
      }
    }
    for (const task of tasks) {
      const clash = plain?.get(task.id);
      if (clash) {
        throw new DuplicateTaskError(
          `the @Task() method ${task.className}.${task.methodName} (provided in ${task.moduleName}) would be the task "${task.id}", which the registry given to TaskqModule already has for ${clash.fn.name ? `function ${clash.fn.name}` : 'an anonymous function'}. Give the method another id: @Task('some.other.id').`,
        );
      }
      this.registry.add(task.id, task.method, task.options);
      this.workerRegistry.add(task.id, createTaskInvoker(task, this.moduleRef), task.options);
    }
    this.registry.markExplored();
    this.#tasks = tasks;
    for (const worker of this.workers) attachEventHandlers(worker, explored.eventHandlers, this.#logger);
    this.#applyExtensions(this.explorer.instancesOf<TaskqExtension>(TASKQ_EXTENSION));
    if (this.#workerOptions) this.#warnAboutUnconsumedQueues();
  }

  #applyExtensions(extensions: readonly TaskqExtension[]): void {
    for (const extension of extensions) {
      const factory = extension.requestUnitOfWork?.(this.queue);
      if (factory) {
        if (this.#requestUnitOfWork !== undefined)
          throw new TypeormIntegrationError(
            `${extension.name} opens the request unit of work, and ${this.#requestUnitOfWork === this.options.http.unitOfWork ? 'TaskqModule has http.unitOfWork too' : 'so does another integration module'}: keep one (${extension.name} takes { requestUnitOfWork: false })`,
          );
        this.#requestUnitOfWork = factory;
      }
      const middleware = extension.taskMiddleware?.(this.queue);
      if (middleware) this.#extensionMiddleware.push(middleware);
    }
  }

  /** The scheduler of `forRoot({ scheduler })`, created at bootstrap (its functions must be registered by then). */
  scheduler: Scheduler | undefined;

  async onApplicationBootstrap(): Promise<void> {
    const scheduling = this.options.scheduler;
    if (scheduling) {
      this.scheduler = createScheduler({
        queue: this.queue,
        schedules: scheduling.schedules,
        claims: scheduling.claims,
        logger: nestLogger('TaskqScheduler'),
      });
      if (scheduling.autoStart !== false) await this.scheduler.start();
    }
    const worker = this.worker;
    const options = this.#workerOptions;
    if (!worker || !options) return;
    const middleware = [...this.#extensionMiddleware];
    for (const [i, entry] of options.middleware.entries()) middleware.push(await this.#resolveMiddleware(entry, i));
    for (const each of this.workers) for (const m of middleware) each.use(m);
    if (options.autoStart) await worker.start();
  }

  /**
   * Drains the worker before anything is torn down: this hook runs after
   * every `onModuleDestroy` but before `onApplicationShutdown`, where pools
   * (TypeORM's DataSource among them) are closed, so in-flight tasks still
   * have them.
   */
  async beforeApplicationShutdown(): Promise<void> {
    // First: a context on its way out submits no tick; another scheduler takes over.
    await this.scheduler?.stop();
    // Under `taskq worker` the CLI stopped the main worker before closing the context; the others may still run.
    const workers = this.#closingFromCli ? this.workers.slice(1) : this.workers;
    await Promise.all(workers.map((worker) => worker.stop({ timeout: this.#workerOptions?.shutdownTimeoutMs })));
  }

  /** Closes the queue once the HTTP server stopped taking requests. */
  async onApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }

  /** @internal Lets `taskq worker` start and stop the worker; stopping it closes the application context. */
  handOverToCli(app: INestApplicationContext): Worker {
    if (!this.worker)
      throw new InvalidOptionError(
        'worker',
        'taskqCliWorker(): the module runs no worker; give TaskqModule.forRoot({ transport, worker: { ... } })',
      );
    this.worker.onShutdown(async () => {
      this.#closingFromCli = true;
      await app.close();
    });
    return this.worker;
  }

  #createWorker(options: ResolvedWorkerOptions, group: WorkerGroup): Worker {
    const signingKeys: SigningKey[] = [
      ...(this.options.signingKey === undefined ? [] : [this.options.signingKey]),
      ...(options.signingKeys ?? []),
    ];
    return createWorker({
      registry: this.workerRegistry,
      transport: this.options.transport,
      concurrency: group.concurrency,
      queues: group.queues,
      codecs: this.options.codecs,
      defaults: options.defaults,
      retryIf: options.retryIf,
      signingKeys: signingKeys.length > 0 ? signingKeys : undefined,
      ackDeadline: options.ackDeadline,
      store: this.options.store,
      maxPayloadBytes: this.options.maxPayloadBytes,
      logger: options.logger === undefined ? nestLogger('TaskqWorker') : useLogger(options.logger),
    });
  }

  async #resolveMiddleware(entry: TaskqMiddlewareEntry, index: number): Promise<TaskMiddleware> {
    if (!isMiddlewareClass(entry)) return entry;
    let instance: TaskqMiddleware;
    try {
      instance = this.moduleRef.get(entry, { strict: false });
    } catch {
      try {
        // Not registered as a provider: build it with the dependencies visible to TaskqModule (its imports and global
        // providers).
        instance = await this.moduleRef.create(entry);
      } catch (cause) {
        throw new MiddlewareResolutionError(
          `worker.middleware[${index}]: ${entry.name} is not a provider and could not be created (${cause instanceof Error ? cause.message : String(cause)}); add it to the providers of a module`,
          { cause },
        );
      }
    }
    return (ctx, next) => instance.use(ctx, next);
  }

  #warnAboutUnconsumedQueues(): void {
    const consumed = new Set(this.workers.flatMap((worker) => worker.queues));
    for (const task of this.#tasks) {
      const queue = task.options.queue;
      if (queue !== undefined && !consumed.has(queue)) {
        this.#logger.warn(
          `task ${task.id} goes to the queue "${queue}", which this worker does not consume (worker.queues: ${[...consumed].join(', ')})`,
        );
      }
    }
  }
}

function withCliOverrides(
  options: ResolvedWorkerOptions | undefined,
  cli: CliOverrides | undefined,
): ResolvedWorkerOptions | undefined {
  if (!cli || !options) return options;
  // The CLI starts and stops the worker itself.
  return {
    ...options,
    autoStart: false,
    concurrency: cli.concurrency ?? options.concurrency,
    queues: cli.queues?.map((name) => ({ name })) ?? options.queues,
  };
}

function attachEventHandlers(worker: Worker, handlers: readonly DiscoveredEventHandler[], logger: Logger): void {
  for (const handler of handlers) {
    worker.on(handler.event, (payload: { queue?: string }) => {
      if (handler.queue !== undefined && payload.queue !== handler.queue) return;
      // The worker's emitter catches a throw; a rejected promise it never sees, so it is logged here.
      const result = handler.call(payload);
      if (result instanceof Promise)
        result.catch((error: unknown) =>
          logger.error(
            `@OnTaskEvent('${handler.event}') ${handler.name} failed`,
            error instanceof Error ? error.stack : error,
          ),
        );
    });
  }
}
