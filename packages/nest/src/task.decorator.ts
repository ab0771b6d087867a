import 'reflect-metadata';
import type { TaskOptions } from '@taskq/core';
import { TaskDeclarationError } from './errors.js';

/** Options of {@link Task}: the task id plus the task options of @taskq/core. */
export interface TaskMethodOptions extends TaskOptions {
  /**
   * Registry id of the task. Give one when two providers would otherwise get
   * the same default id, or to keep an id stable across renames.
   * @defaultValue `'ClassName.methodName'`
   */
  readonly id?: string;
}

/** What `@Task()` records on the method. */
export interface TaskMetadata {
  /** The explicit id, when one was given. */
  readonly id: string | undefined;
  readonly options: TaskOptions;
  /** Name of the class that declared the method, for error messages. */
  readonly declaredIn: string;
  readonly methodName: string;
}

// A string key (not a symbol) so that two installed copies of @taskq/nest read each other's metadata.
const TASK_METADATA = 'taskq:task';

/**
 * Marks a provider method as a task. Metadata only: the method is neither
 * wrapped nor replaced, so `this.mail.sendWelcome(user)` still runs it inline,
 * exactly as before. At module init the task explorer registers every marked
 * method of every provider, and `queue.submit(this.mail.sendWelcome, user)`
 * sends it to a worker, which calls it on that provider's instance from its
 * own container.
 *
 * @param idOrOptions the task id (default `ClassName.methodName`) or {@link TaskMethodOptions}
 *
 * @example
 * ```ts
 * @Injectable()
 * export class MailTasks {
 *   constructor(private readonly mailer: Mailer) {}
 *   @Task()  // id 'MailTasks.sendWelcome'
 *   async sendWelcome(user: User) { await this.mailer.send(user.email, 'Welcome!'); }
 * }
 * ```
 */
export function Task(idOrOptions?: string | TaskMethodOptions) {
  const { id, ...options }: TaskMethodOptions =
    typeof idOrOptions === 'string' ? { id: idOrOptions } : (idOrOptions ?? {});
  if (id !== undefined && (typeof id !== 'string' || id.length === 0)) {
    throw new TaskDeclarationError(`@Task(id): expected a non-empty string id, got ${JSON.stringify(id)}`);
  }
  return <F extends (...args: never[]) => unknown>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<F>,
  ): void => {
    const where = `${describeTarget(target)}.${String(key)}`;
    if (typeof target === 'function') {
      throw new TaskDeclarationError(
        `@Task() on the static method ${where}: tasks are instance methods of providers, called on the instance from the container`,
      );
    }
    if (typeof descriptor?.value !== 'function') {
      throw new TaskDeclarationError(
        `@Task() on ${where}, which is not a method (accessors and fields cannot be tasks)`,
      );
    }
    if (typeof key === 'symbol' && id === undefined) {
      throw new TaskDeclarationError(
        `@Task() on the symbol-named method ${where} needs an explicit id: @Task('some.id')`,
      );
    }
    const metadata: TaskMetadata = { id, options, declaredIn: describeTarget(target), methodName: String(key) };
    Reflect.defineMetadata(TASK_METADATA, metadata, descriptor.value);
  };
}

/** The `@Task()` metadata of a method, or undefined for an undecorated one. */
export function getTaskMetadata(method: unknown): TaskMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(TASK_METADATA, method) as TaskMetadata | undefined;
}

function describeTarget(target: object): string {
  const ctor = typeof target === 'function' ? target : (target as { constructor?: { name?: string } }).constructor;
  return ctor?.name || 'an anonymous class';
}
