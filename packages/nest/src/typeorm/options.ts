import type { InjectionToken, ModuleMetadata } from '@nestjs/common';
import { InvalidOptionError } from '@taskq/core';
import type { IsolationLevel, OutboxRelayOptions, TaskTransactionOptions } from '@taskq/typeorm';

/** The request transaction `TaskqTypeormModule` opens around HTTP handlers. */
export interface TaskqRequestUnitOfWorkOptions {
  /**
   * HTTP methods whose requests run in a database transaction; the others get a
   * plain unit of work (their submits still wait for the handler's success).
   * @defaultValue every method
   */
  readonly methods?: readonly string[];
  /** @defaultValue the DataSource's default */
  readonly isolation?: IsolationLevel;
}

/** Options of `TaskqTypeormModule.forRoot()`. */
export interface TaskqTypeormOptions {
  /**
   * The DataSource's injection token.
   * @defaultValue typeorm's `DataSource` class (the token of @nestjs/typeorm's default connection)
   */
  readonly dataSource?: InjectionToken;
  /** Modules that provide the DataSource, when it is not a global provider (as @nestjs/typeorm's is). */
  readonly imports?: ModuleMetadata['imports'];
  /**
   * Every HTTP request (or those of `methods`) runs in a database transaction
   * that its tasks join through the outbox: the handler's writes and its tasks
   * commit together, or are dropped together. `false` leaves the request unit
   * of work to `TaskqModule`'s `http.unitOfWork`.
   * @defaultValue `true`
   */
  readonly requestUnitOfWork?: boolean | TaskqRequestUnitOfWorkOptions;
  /**
   * Each task the worker runs gets its own database transaction, with an inbox
   * row so a redelivered task's effects happen once (`taskTransaction()` of
   * @taskq/typeorm, outermost of the worker's middleware).
   * @defaultValue `true`
   */
  readonly taskTransaction?: boolean | Omit<TaskTransactionOptions, 'queue'>;
  /**
   * Run the outbox relay in this application context: started when the
   * application boots, stopped before it shuts down (before the DataSource is
   * closed).
   * @defaultValue `true`
   */
  readonly relay?: boolean | OutboxRelayOptions;
}

/** @internal */
export interface ResolvedTypeormOptions {
  readonly requestUnitOfWork: TaskqRequestUnitOfWorkOptions | undefined;
  readonly taskTransaction: Omit<TaskTransactionOptions, 'queue'> | undefined;
  readonly relay: OutboxRelayOptions | undefined;
}

function section<T extends object>(value: boolean | T | undefined, option: string): T | undefined {
  if (value === undefined || value === true) return {} as T;
  if (value === false) return undefined;
  if (typeof value !== 'object' || value === null)
    throw new InvalidOptionError(option, `expected true, false or an options object, got ${JSON.stringify(value)}`);
  return value;
}

/** @internal Validates the options once, where the module is declared. */
export function resolveTypeormOptions(options: TaskqTypeormOptions): ResolvedTypeormOptions {
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'expected TaskqTypeormModule options such as { dataSource }');
  const requestUnitOfWork = section(options.requestUnitOfWork, 'requestUnitOfWork');
  const methods = requestUnitOfWork?.methods;
  if (methods !== undefined && (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')))
    throw new InvalidOptionError('requestUnitOfWork.methods', "expected HTTP methods such as ['POST', 'PUT']");
  return {
    requestUnitOfWork: requestUnitOfWork && {
      ...requestUnitOfWork,
      methods: methods?.map((method) => method.toUpperCase()),
    },
    taskTransaction: section(options.taskTransaction, 'taskTransaction'),
    relay: section(options.relay, 'relay'),
  };
}
