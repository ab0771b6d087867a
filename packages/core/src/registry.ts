import { DuplicateTaskError, InvalidOptionError, UnregisteredTaskError } from './errors.js';
import {
  DEFAULT_PARTITIONS,
  type RegistrationOptions,
  type TaskOptions,
  validateRegistrationOptions,
  validateTaskOptions,
} from './task-options.js';

/** Any function can be a task; its parameters become the typed arguments of `submit`. */
export type TaskFunction = (...args: never[]) => unknown;

/** A registered task. */
export interface TaskDefinition {
  readonly id: string;
  readonly fn: TaskFunction;
  readonly options: RegistrationOptions<readonly unknown[]>;
}

const TASK_ID = /^[A-Za-z0-9_$][A-Za-z0-9_$.\-:]{0,199}$/;

function describeFunction(fn: TaskFunction): string {
  return fn.name ? `function ${fn.name}` : 'an anonymous function';
}

function isClass(fn: unknown): boolean {
  return typeof fn === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

/**
 * Maps task ids to plain functions, in both directions. The same registry is
 * built by the web and the worker processes (usually one shared module), so
 * an id always names the same function body. Registering touches nothing
 * outside this object: no connection, no global.
 */
export class TaskRegistry {
  readonly #byId = new Map<string, TaskDefinition>();
  readonly #byFn = new Map<TaskFunction, TaskDefinition>();

  /**
   * Registers every exported function of `moduleObject` as `namespace.exportName`
   * (classes and non-functions are ignored), so `mail.send` and `billing.send`
   * are two tasks even though both functions are called `send`.
   */
  module(namespace: string, moduleObject: object, options: TaskOptions = {}): this {
    if (typeof namespace !== 'string' || !TASK_ID.test(namespace)) {
      throw new InvalidOptionError('namespace', `expected an id-like string, got ${JSON.stringify(namespace)}`);
    }
    if (typeof moduleObject !== 'object' || moduleObject === null) {
      throw new InvalidOptionError(
        'moduleObject',
        `expected a module namespace object (import * as tasks from ...) for "${namespace}"`,
      );
    }
    for (const [exportName, value] of Object.entries(moduleObject)) {
      if (typeof value === 'function' && !isClass(value))
        this.add(`${namespace}.${exportName}`, value as TaskFunction, options);
    }
    return this;
  }

  /** Registers one function under an explicit id. */
  add<F extends TaskFunction>(id: string, fn: F, options: RegistrationOptions<Parameters<F>> = {}): this {
    if (typeof id !== 'string' || !TASK_ID.test(id)) {
      throw new InvalidOptionError(
        'id',
        `task ids are letters, digits and _ $ . - : (up to 200 chars), got ${JSON.stringify(id)}`,
      );
    }
    if (typeof fn !== 'function')
      throw new InvalidOptionError('fn', `task "${id}" must be a function, got ${typeof fn}`);
    validateTaskOptions(options, `tasks["${id}"]`);
    const general = options as RegistrationOptions<readonly unknown[]>;
    validateRegistrationOptions(general, `tasks["${id}"]`);
    if (general.concurrencyKey) this.#checkPartitions(id, general);
    const existing = this.#byId.get(id);
    if (existing) {
      if (existing.fn === fn) return this;
      throw new DuplicateTaskError(
        `task id "${id}" is already registered for ${describeFunction(existing.fn)}; cannot register ${describeFunction(fn)} under the same id. Give one of them another id.`,
      );
    }
    const other = this.#byFn.get(fn);
    if (other) {
      throw new DuplicateTaskError(
        `${describeFunction(fn)} is already registered as "${other.id}"; registering it again as "${id}" would make the function ambiguous. Register it once.`,
      );
    }
    const definition: TaskDefinition = { id, fn, options: general };
    this.#byId.set(id, definition);
    this.#byFn.set(fn, definition);
    return this;
  }

  /** Keyed tasks of one queue share its partitions: they must agree on their number and their slots. */
  #checkPartitions(id: string, options: RegistrationOptions<readonly unknown[]>): void {
    const queue = options.queue ?? 'default';
    for (const other of this.#byId.values()) {
      const theirs = other.options;
      if (!theirs.concurrencyKey || (theirs.queue ?? 'default') !== queue || other.id === id) continue;
      for (const [name, fallback] of [
        ['partitions', DEFAULT_PARTITIONS],
        ['maxPerKey', 1],
      ] as const) {
        if ((theirs[name] ?? fallback) !== (options[name] ?? fallback))
          throw new InvalidOptionError(
            `tasks["${id}"].${name}`,
            `keyed tasks of queue "${queue}" share its partitions: "${other.id}" has ${name} ${theirs[name] ?? fallback}, this one ${options[name] ?? fallback}`,
          );
      }
    }
  }

  /** The definition registered for `fn`, or undefined. */
  lookup(fn: TaskFunction): TaskDefinition | undefined {
    return this.#byFn.get(fn);
  }

  /** The definition registered for `fn`; throws a clear error when there is none. */
  require(fn: TaskFunction): TaskDefinition {
    const definition = this.#byFn.get(fn);
    if (definition) return definition;
    const name = typeof fn === 'function' ? describeFunction(fn) : `a ${typeof fn}`;
    throw new UnregisteredTaskError(
      `${name} is not a registered task. Register it in the registry shared by the web and worker processes: registry.module('namespace', moduleObject) or registry.add('namespace.name', fn).`,
    );
  }

  /** The definition with this id, or undefined. */
  get(id: string): TaskDefinition | undefined {
    return this.#byId.get(id);
  }

  /** All registered ids, in registration order. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  get size(): number {
    return this.#byId.size;
  }
}
