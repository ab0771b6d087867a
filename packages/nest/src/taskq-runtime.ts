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
  createWorker,
  DuplicateTaskError,
  InvalidOptionError,
  type SigningKey,
  type TaskMiddleware,
  type TaskQueue,
  TaskRegistry,
  type Worker,
} from '@taskq/core';
import { MiddlewareResolutionError } from './errors.js';
import { type CliOverrides, cliOverrides } from './internal/cli-context.js';
import { nestLogger } from './internal/nest-logger.js';
import { isMiddlewareClass, type TaskqMiddleware, type TaskqMiddlewareEntry } from './middleware.js';
import type { ResolvedTaskqOptions, ResolvedWorkerOptions } from './options.js';
import { ProviderTaskRegistry } from './provider-task-registry.js';
import { createTaskInvoker } from './task-invoker.js';
import { type DiscoveredTask, TaskExplorer } from './task-explorer.js';

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
  readonly worker: Worker | undefined;
  #tasks: readonly DiscoveredTask[] = [];
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
    this.#workerOptions = withCliOverrides(options.worker, cliOverrides());
    this.worker = this.#workerOptions && this.#createWorker(this.#workerOptions);
  }

  /** The `@Task()` methods found at init. */
  get tasks(): readonly DiscoveredTask[] {
    return this.#tasks;
  }

  onModuleInit(): void {
    const { tasks, providers } = this.explorer.explore(TaskqRuntime);
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
    if (this.#workerOptions) this.#warnAboutUnconsumedQueues(this.#workerOptions);
  }

  async onApplicationBootstrap(): Promise<void> {
    const worker = this.worker;
    const options = this.#workerOptions;
    if (!worker || !options) return;
    for (const [i, entry] of options.middleware.entries()) worker.use(await this.#resolveMiddleware(entry, i));
    if (options.autoStart) await worker.start();
  }

  /**
   * Drains the worker before anything is torn down: this hook runs after
   * every `onModuleDestroy` but before `onApplicationShutdown`, where pools
   * (TypeORM's DataSource among them) are closed, so in-flight tasks still
   * have them.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.worker || this.#closingFromCli) return;
    await this.worker.stop({ timeout: this.#workerOptions?.shutdownTimeoutMs });
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

  #createWorker(options: ResolvedWorkerOptions): Worker {
    const signingKeys: SigningKey[] = [
      ...(this.options.signingKey === undefined ? [] : [this.options.signingKey]),
      ...(options.signingKeys ?? []),
    ];
    return createWorker({
      registry: this.workerRegistry,
      transport: this.options.transport,
      concurrency: options.concurrency,
      queues: options.queues,
      codecs: this.options.codecs,
      defaults: options.defaults,
      retryIf: options.retryIf,
      signingKeys: signingKeys.length > 0 ? signingKeys : undefined,
      ackDeadline: options.ackDeadline,
      store: this.options.store,
      maxPayloadBytes: this.options.maxPayloadBytes,
      logger: options.logger ?? nestLogger('TaskqWorker'),
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

  #warnAboutUnconsumedQueues(options: ResolvedWorkerOptions): void {
    const consumed = new Set(options.queues);
    for (const task of this.#tasks) {
      const queue = task.options.queue;
      if (queue !== undefined && !consumed.has(queue)) {
        this.#logger.warn(
          `task ${task.id} goes to the queue "${queue}", which this worker does not consume (worker.queues: ${options.queues.join(', ')})`,
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
    queues: cli.queues ?? options.queues,
  };
}
