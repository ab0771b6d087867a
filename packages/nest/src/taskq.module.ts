import { type DynamicModule, Module, type Provider, Scope, type Type } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule, INQUIRER } from '@nestjs/core';
import { InvalidOptionError, type TaskQueue, type Worker } from '@taskq/core';
import { UndeclaredQueueError } from './errors.js';
import { injectedQueueNames } from './inject-queue.decorator.js';
import {
  resolveQueueDefinitions,
  resolveStatusRoute,
  resolveTaskqOptions,
  type TaskqModuleAsyncOptions,
  type TaskqFeatureOptions,
  type TaskqModuleOptions,
  type TaskqOptionsFactory,
  type TaskqQueueDefinition,
  type TaskqStaticOptions,
} from './options.js';
import { RequestMarker } from './request-marker.js';
import { createTaskStatusController } from './task-status.controller.js';
import { TaskExplorer } from './task-explorer.js';
import { TASKQ_OPTIONS, TaskqRuntime } from './taskq-runtime.js';
import {
  DEFAULT_QUEUE_NAME,
  getQueueToken,
  getWorkerToken,
  TASKQ_ASYNC_OPTIONS,
  TASKQ_FEATURE_QUEUES,
  TASKQ_STATUS_PATH,
} from './tokens.js';
import { TaskqUnitOfWorkInterceptor } from './unit-of-work.interceptor.js';

/**
 * taskq for NestJS. Import `forRoot()` once, in the root module (it is global),
 * and `forFeature({ queues })` in the modules that use more queues:
 *
 * - `@InjectQueue(name?)` injects the default queue or a named one;
 * - every provider method marked `@Task()` becomes a task, found at init;
 * - with `worker`, the application context also runs tasks (a worker
 *   process is `NestFactory.createApplicationContext(WorkerModule)`), each on
 *   its provider's instance from the container, drained on `app.close()`;
 * - a global interceptor gives every HTTP request a unit of work (and,
 *   with `http.unitOfWork`, e.g. a database transaction): tasks go out only if
 *   the handler succeeded.
 */
@Module({})
export class TaskqModule {
  /** Configures the module with options known up front. */
  static forRoot(options: TaskqModuleOptions & TaskqStaticOptions): DynamicModule {
    const queues = resolveQueueDefinitions(options?.queues);
    const statusPath = resolveStatusRoute(options?.statusRoute);
    // Validated here, once, so a bad option fails where the module is declared.
    const resolved = resolveTaskqOptions(options, queues);
    return build([{ provide: TASKQ_OPTIONS, useValue: resolved }], [], queues, statusPath);
  }

  /**
   * Configures the module from other providers (configuration, a DataSource).
   * `queues` and `statusRoute` shape the module, so they are given here, not
   * by the factory.
   */
  static forRootAsync(options: TaskqModuleAsyncOptions): DynamicModule {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('options', 'expected { useFactory, inject } or { useClass } or { useExisting }');
    const given = [options.useFactory, options.useClass, options.useExisting].filter((x) => x !== undefined).length;
    if (given !== 1)
      throw new InvalidOptionError('forRootAsync', 'give exactly one of useFactory, useClass and useExisting');
    if (options.useFactory !== undefined && typeof options.useFactory !== 'function')
      throw new InvalidOptionError('useFactory', 'expected a function');
    const queues = resolveQueueDefinitions(options.queues);
    const statusPath = resolveStatusRoute(options.statusRoute);
    const providers: Provider[] = [
      ...asyncOptionsProviders(options),
      {
        provide: TASKQ_OPTIONS,
        useFactory: (raw: TaskqModuleOptions) => resolveTaskqOptions(raw, queues),
        inject: [TASKQ_ASYNC_OPTIONS],
      },
    ];
    return build(providers, options.imports ?? [], queues, statusPath);
  }

  /**
   * Declares queues in a feature module, as `BullModule.registerQueue()` does:
   * its providers (and the modules importing it) inject them with
   * `@InjectQueue(name)`, and a worker in the application consumes them
   * unless `worker.queues` lists its queues. Needs `forRoot()`/`forRootAsync()`
   * in the root module.
   */
  static forFeature(options: TaskqFeatureOptions): DynamicModule {
    if (
      typeof options !== 'object' ||
      options === null ||
      !Array.isArray(options.queues) ||
      options.queues.length === 0
    )
      throw new InvalidOptionError('forFeature', "expected { queues: ['name', ...] } with at least one queue");
    const queues = resolveQueueDefinitions(options.queues, 'forFeature.queues');
    return {
      module: TaskqModule,
      providers: [
        { provide: TASKQ_FEATURE_QUEUES, useValue: queues },
        ...queues.map((definition) => ({
          provide: getQueueToken(definition.name),
          useFactory: (root: TaskQueue): TaskQueue => root.with({ queue: definition.name, ...definition.defaults }),
          inject: [getQueueToken(DEFAULT_QUEUE_NAME)],
        })),
      ],
      exports: queues.map((q) => getQueueToken(q.name)),
    };
  }
}

function asyncOptionsProviders(options: TaskqModuleAsyncOptions): Provider[] {
  if (options.useFactory) {
    return [{ provide: TASKQ_ASYNC_OPTIONS, useFactory: options.useFactory, inject: [...(options.inject ?? [])] }];
  }
  const factoryToken = options.useClass ?? options.useExisting;
  const fromFactory: Provider = {
    provide: TASKQ_ASYNC_OPTIONS,
    useFactory: (factory: TaskqOptionsFactory) => factory.createTaskqOptions(),
    inject: [factoryToken as Type<TaskqOptionsFactory>],
  };
  return options.useClass ? [fromFactory, { provide: options.useClass, useClass: options.useClass }] : [fromFactory];
}

function queueProvider(definition: TaskqQueueDefinition | undefined): Provider {
  return {
    provide: getQueueToken(definition?.name),
    useFactory: (runtime: TaskqRuntime): TaskQueue =>
      definition ? runtime.queue.with({ queue: definition.name, ...definition.defaults }) : runtime.queue,
    inject: [TaskqRuntime],
  };
}

function build(
  optionProviders: Provider[],
  imports: NonNullable<DynamicModule['imports']>,
  queues: readonly TaskqQueueDefinition[],
  statusPath: string | undefined,
): DynamicModule {
  const queueProviders = [queueProvider(undefined), ...queues.map(queueProvider)];
  const declared = new Set([DEFAULT_QUEUE_NAME, ...queues.map((q) => q.name)]);
  // Names @InjectQueue() was used with, read when Nest scans the module (by then every class has been defined), not
  // when forRoot() is called.
  const undeclared = (): string[] => [...injectedQueueNames().keys()].filter((name) => !declared.has(name));
  const providers: Provider[] = [
    ...optionProviders,
    TaskExplorer,
    TaskqRuntime,
    RequestMarker,
    ...queueProviders,
    {
      provide: getWorkerToken(),
      useFactory: (runtime: TaskqRuntime): Worker | null => runtime.worker ?? null,
      inject: [TaskqRuntime],
    },
    { provide: TASKQ_STATUS_PATH, useValue: statusPath ?? null },
    { provide: APP_INTERCEPTOR, useClass: TaskqUnitOfWorkInterceptor },
  ];
  const exported = [getQueueToken(DEFAULT_QUEUE_NAME), ...queues.map((q) => getQueueToken(q.name)), getWorkerToken()];
  return {
    module: TaskqModule,
    global: true,
    imports: [DiscoveryModule, ...imports],
    controllers: statusPath ? [createTaskStatusController(statusPath)] : [],
    get providers(): Provider[] {
      return [...providers, ...undeclared().map(undeclaredQueueProvider)];
    },
    get exports(): string[] {
      return [...exported, ...undeclared().map((name) => getQueueToken(name))];
    },
  };
}

/**
 * The global provider of a queue name that `@InjectQueue()` uses but `forRoot()` does not declare. A provider whose
 * module imports `forFeature()` with that name finds the feature's provider first; any other gets this one, which
 * fails with what to declare instead of Nest's "can't resolve dependencies". Transient, so it is built only for a
 * provider that injects it, and knows which one.
 */
function undeclaredQueueProvider(name: string): Provider {
  return {
    provide: getQueueToken(name),
    scope: Scope.TRANSIENT,
    useFactory: (inquirer: unknown, runtime: TaskqRuntime): never => {
      const owner = (inquirer as { constructor?: { name?: string } } | undefined)?.constructor?.name;
      const who = owner && owner !== 'Object' ? owner : [...(injectedQueueNames().get(name) ?? [])].join(' or ');
      const elsewhere = runtime.declaredQueues.some((q) => q.name === name)
        ? ` (TaskqModule.forFeature() declares it in another module; as any provider, a queue is visible in the module that declares it and in modules importing that one)`
        : '';
      throw new UndeclaredQueueError(
        `${who} injects @InjectQueue('${name}'), but the queue "${name}" is not declared where ${who} is provided${elsewhere}. Add TaskqModule.forFeature({ queues: ['${name}'] }) to the imports of the module that provides ${who}, or declare it for the whole application: TaskqModule.forRoot({ queues: ['${name}'] }).`,
      );
    },
    inject: [INQUIRER, TaskqRuntime],
  };
}
