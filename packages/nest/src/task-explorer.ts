import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { DuplicateTaskError, type TaskFunction, type TaskOptions } from '@taskq/core';
import { AmbiguousTaskProviderError, DuplicateTaskqModuleError, TaskEventHandlerError } from './errors.js';
import { getTaskEventMetadata, type TaskEventMetadata } from './task-event.decorator.js';
import { getTaskMetadata } from './task.decorator.js';

type InstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** A `@Task()` method found on a provider. */
export interface DiscoveredTask {
  /** Registry id: the explicit one, or `ClassName.methodName`. */
  readonly id: string;
  readonly explicitId: boolean;
  /** The prototype function: what `this.provider.method` evaluates to, and what `submit` is given. */
  readonly method: TaskFunction;
  readonly methodName: string;
  readonly className: string;
  /** Name of the module that provides the class. */
  readonly moduleName: string;
  readonly options: TaskOptions;
  /** The provider's instance, or undefined for a request-scoped or transient provider (resolved per task). */
  readonly instance: object | undefined;
  /** The provider's token, to resolve a request-scoped instance per task. */
  readonly token: InstanceWrapper['token'];
}

/** A provider class the explorer looked at, decorated or not (for error messages). */
export interface ScannedProvider {
  readonly prototype: object;
  readonly className: string;
}

/** An `@OnTaskEvent()` method found on a provider. */
export interface DiscoveredEventHandler extends TaskEventMetadata {
  /** `ClassName.methodName`, for logs. */
  readonly name: string;
  readonly call: (payload: unknown) => unknown;
}

/** What one exploration found. */
export interface Exploration {
  readonly tasks: readonly DiscoveredTask[];
  readonly providers: readonly ScannedProvider[];
  readonly eventHandlers: readonly DiscoveredEventHandler[];
}

/**
 * Finds the `@Task()` methods of all providers with Nest's DiscoveryService,
 * once, when the application initialises. An ambiguity is a start-up error
 * naming every party, never a silent choice: two methods that would share an
 * id, or one method that several provider instances share.
 */
@Injectable()
export class TaskExplorer {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
  ) {}

  /**
   * The instances of every provider registered under `token`, in any module. A value provider's instance exists as
   * soon as the modules are scanned; any other provider's once the application has been instantiated.
   */
  instancesOf<T>(token: string): T[] {
    return this.discovery
      .getProviders()
      .filter((wrapper) => wrapper.token === token && wrapper.instance !== undefined && wrapper.instance !== null)
      .map((wrapper) => wrapper.instance as T);
  }

  /** Scans every provider; `runtimeToken` is the module's own provider, to detect a second `TaskqModule.forRoot()`. */
  explore(runtimeToken: InstanceWrapper['token']): Exploration {
    const tasks: DiscoveredTask[] = [];
    const providers: ScannedProvider[] = [];
    const eventHandlers: DiscoveredEventHandler[] = [];
    const hosts: string[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      if (wrapper.token === runtimeToken) hosts.push(wrapper.host?.name ?? '?');
      if (wrapper.isAlias) continue;
      const found = this.#scan(wrapper);
      if (!found) continue;
      providers.push(found.provider);
      tasks.push(...found.tasks);
      eventHandlers.push(...found.eventHandlers);
    }
    if (hosts.length > 1) {
      throw new DuplicateTaskqModuleError(
        `TaskqModule is imported ${hosts.length} times (${hosts.join(', ')}); import TaskqModule.forRoot() once, in the root module (it is global), and declare more queues with its "queues" option`,
      );
    }
    checkOneInstancePerMethod(tasks);
    checkUniqueIds(tasks);
    return { tasks, providers, eventHandlers };
  }

  #scan(
    wrapper: InstanceWrapper,
  ): { provider: ScannedProvider; tasks: DiscoveredTask[]; eventHandlers: DiscoveredEventHandler[] } | undefined {
    const isStatic = wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
    const instance: unknown = isStatic ? wrapper.instance : undefined;
    let prototype: object | undefined;
    if (isStatic) {
      if (typeof instance !== 'object' || instance === null) return undefined;
      prototype = Object.getPrototypeOf(instance) ?? undefined;
    } else if (typeof wrapper.metatype === 'function' && !wrapper.inject) {
      prototype = wrapper.metatype.prototype as object;
    }
    // A request-scoped factory provider hides its class until it runs, so its methods cannot be found: provide the
    // class (useClass).
    if (!prototype || prototype === Object.prototype) return undefined;
    const className = (prototype as { constructor?: { name?: string } }).constructor?.name || String(wrapper.name);
    const moduleName = wrapper.host?.name ?? 'an unknown module';
    const tasks: DiscoveredTask[] = [];
    const eventHandlers: DiscoveredEventHandler[] = [];
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = (prototype as Record<string, unknown>)[methodName];
      for (const event of getTaskEventMetadata(method) ?? []) {
        const name = `${className}.${methodName}`;
        // A listener outlives any request or task: it needs the one instance a singleton provider has.
        if (!isStatic)
          throw new TaskEventHandlerError(
            `@OnTaskEvent('${event.event}') on ${name} (provided in ${moduleName}): the provider is request-scoped or transient; event listeners must be singleton providers`,
          );
        const target = instance as Record<string, (payload: unknown) => unknown>;
        eventHandlers.push({ ...event, name, call: (payload) => target[methodName](payload) });
      }
      const metadata = getTaskMetadata(method);
      if (!metadata) continue;
      tasks.push({
        id: metadata.id ?? `${className}.${methodName}`,
        explicitId: metadata.id !== undefined,
        method: method as TaskFunction,
        methodName,
        className,
        moduleName,
        options: metadata.options,
        instance: isStatic ? (instance as object) : undefined,
        token: wrapper.token,
      });
    }
    return { provider: { prototype, className }, tasks, eventHandlers };
  }
}

function describe(task: DiscoveredTask): string {
  return `${task.className}.${task.methodName} (provided in ${task.moduleName})`;
}

function checkOneInstancePerMethod(tasks: readonly DiscoveredTask[]): void {
  const byMethod = new Map<TaskFunction, DiscoveredTask[]>();
  for (const task of tasks) byMethod.set(task.method, [...(byMethod.get(task.method) ?? []), task]);
  for (const owners of byMethod.values()) {
    if (owners.length < 2) continue;
    throw new AmbiguousTaskProviderError(
      `the @Task() method ${owners[0].methodName} belongs to ${owners.length} providers: ${owners.map(describe).join(', ')}. A submitted method must name one instance: provide the class in one module and export it, or override the method in each subclass.`,
    );
  }
}

function checkUniqueIds(tasks: readonly DiscoveredTask[]): void {
  const byId = new Map<string, DiscoveredTask[]>();
  for (const task of tasks) byId.set(task.id, [...(byId.get(task.id) ?? []), task]);
  for (const [id, owners] of byId) {
    if (owners.length < 2) continue;
    const hint = owners.every((o) => !o.explicitId)
      ? ` Give them explicit ids, e.g. @Task('${owners[0].moduleName}.${owners[0].methodName}') and @Task('${owners[1].moduleName}.${owners[1].methodName}').`
      : ' Change one of the explicit ids.';
    throw new DuplicateTaskError(
      `two @Task() methods would both be the task "${id}": ${owners.map(describe).join(' and ')}.${hint}`,
    );
  }
}
