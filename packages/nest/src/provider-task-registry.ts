import { type TaskDefinition, type TaskFunction, TaskRegistry, UnregisteredTaskError } from '@taskq/core';
import { getTaskMetadata } from './task.decorator.js';

/**
 * The registry behind the module's queues: plain-function tasks plus the
 * `@Task()` methods, each registered as its prototype function (what
 * `this.mail.sendWelcome` evaluates to), so a submitted method is found by
 * identity like any task function. It differs from its base class only in
 * the error for a function it does not know, which says what to do in a
 * Nest application.
 */
export class ProviderTaskRegistry extends TaskRegistry {
  readonly #providerPrototypes = new Map<object, string>();
  #explored = false;

  /** @internal The explorer records every provider class it saw, to name undecorated methods in errors. */
  noteProvider(prototype: object, className: string): void {
    this.#providerPrototypes.set(prototype, className);
  }

  /** @internal Set once the explorer has registered the `@Task()` methods. */
  markExplored(): void {
    this.#explored = true;
  }

  override require(fn: TaskFunction): TaskDefinition {
    const definition = this.lookup(fn);
    if (definition) return definition;
    throw new UnregisteredTaskError(this.#explain(fn));
  }

  #explain(fn: TaskFunction): string {
    if (typeof fn !== 'function')
      return `queue.submit() needs a task function as its first argument, got ${fn === null ? 'null' : typeof fn}`;
    const metadata = getTaskMetadata(fn);
    if (metadata) {
      const where = `${metadata.declaredIn}.${metadata.methodName}`;
      return this.#explored
        ? `${where} has @Task() but is not a registered task: ${metadata.declaredIn} is not a provider of this application. Add it to the providers of a module.`
        : `${where} was submitted before the @Task() methods were registered; they are registered when the application initialises (onModuleInit). Submit after app.init() / from a request or a lifecycle hook, not from a constructor.`;
    }
    for (const [prototype, className] of this.#providerPrototypes) {
      for (
        let proto: object | null = prototype;
        proto && proto !== Object.prototype;
        proto = Object.getPrototypeOf(proto)
      ) {
        for (const name of Object.getOwnPropertyNames(proto)) {
          if (name !== 'constructor' && Object.getOwnPropertyDescriptor(proto, name)?.value === fn) {
            return `${className}.${name} is not a task: decorate the method with @Task() (or @Task('some.id')) so it is registered at start-up.`;
          }
        }
      }
    }
    if (fn.name.startsWith('bound ')) {
      return `${fn.name} is a bound function, which is a new function no registry knows: submit the method itself, queue.submit(this.mail.sendWelcome, ...args), without .bind() or an arrow function.`;
    }
    const name = fn.name ? `function ${fn.name}` : 'an anonymous function';
    return `${name} is not a registered task: decorate a provider method with @Task(), or register plain functions in the registry given to TaskqModule.forRoot({ registry }).`;
  }
}
