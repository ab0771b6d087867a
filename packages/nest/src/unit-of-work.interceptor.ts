import { type CallHandler, type ExecutionContext, Inject, Injectable, Logger, type NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { Observable, type Subscription, throwError } from 'rxjs';
import { ACCEPTED_METADATA, type AcceptedOptions } from './accepted.decorator.js';
import { attachTransaction } from './current-transaction.decorator.js';
import { AcceptedResultError, RequestTransactionShapeError } from './errors.js';
import { asBadRequest } from './internal/bad-host.js';
import { RequestMarker } from './request-marker.js';
import { plainTransaction, type RequestTransaction } from './request-transaction.js';
import { TaskqRuntime } from './taskq-runtime.js';
import { TASKQ_STATUS_PATH } from './tokens.js';

/**
 * Registered globally by `TaskqModule`: around every HTTP handler it checks
 * the request's host against `http.allowedHosts` (400 otherwise, before the
 * handler runs), opens the request's unit of work (and, with
 * `http.transaction`, its database transaction) and marks the request so it
 * can be a task argument.
 *
 * The handler runs inside the unit of work; its tasks are published by
 * `commit()` once its observable completed, and only then is the response
 * sent, so a `202 Accepted` always names a task that exists. If the handler
 * fails, the tasks are dropped and the error goes on to Nest's exception
 * filters. Handlers that write the response themselves (`@Res()` without
 * `passthrough`) answer before the commit; `@Sse()` streams get no unit of
 * work (their submits publish at once).
 */
@Injectable()
export class TaskqUnitOfWorkInterceptor implements NestInterceptor {
  readonly #logger = new Logger('TaskqModule');

  /** @internal Made by Nest's injector from the module's own providers. */
  constructor(
    @Inject(TaskqRuntime) private readonly runtime: TaskqRuntime,
    @Inject(RequestMarker) private readonly marker: RequestMarker,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(TASKQ_STATUS_PATH) private readonly statusPath: string | null,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'http') return next.handle();
    const request: unknown = execution.switchToHttp().getRequest();
    try {
      // Before the handler (and its pipes) run: a bad or unknown Host is a 400, and the handler never sees it.
      this.marker.mark(request);
    } catch (error) {
      return throwError(() => asBadRequest(error));
    }
    const http = this.runtime.options.http;
    // A server-sent event stream never completes: holding its events back until a commit would hold them forever.
    if (this.reflector.get<boolean | undefined>(SSE_METADATA, execution.getHandler())) return next.handle();
    const accepted = this.reflector.get<AcceptedOptions | undefined>(ACCEPTED_METADATA, execution.getHandler());
    if (!http.unitOfWork) return accepted ? this.#accept(next.handle(), execution, accepted) : next.handle();

    return new Observable<unknown>((subscriber) => {
      let transaction: RequestTransaction | undefined;
      let inner: Subscription | undefined;
      let settled = false;
      const values: unknown[] = [];

      const fail = async (error: unknown): Promise<void> => {
        settled = true;
        await this.#rollback(transaction);
        subscriber.error(error);
      };
      const complete = async (): Promise<void> => {
        settled = true;
        try {
          await transaction?.commit();
        } catch (error) {
          // Committing failed (the database or the broker): nothing was promised to the client yet, so it gets the error.
          await this.#rollback(transaction);
          subscriber.error(error);
          return;
        }
        try {
          for (const value of values) subscriber.next(accepted ? this.#acceptedBody(value, execution, accepted) : value);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        subscriber.complete();
      };

      this.#open(request, execution)
        .then((opened) => {
          transaction = opened;
          attachTransaction(request, opened);
          if (subscriber.closed) return this.#rollback(opened);
          const run = <T>(fn: () => T): T => (opened.run ? opened.run(fn) : opened.uow.run(fn));
          // next.handle() binds the handler to the async context it is called in, so both happen inside run().
          inner = run(() =>
            next.handle().subscribe({
              next: (value) => values.push(value),
              error: (error: unknown) => void fail(error),
              complete: () => void complete(),
            }),
          );
        })
        .catch((error: unknown) => void fail(error));

      return () => {
        inner?.unsubscribe();
        // Torn down before the handler finished (the client went away): its work is dropped.
        if (!settled) void this.#rollback(transaction);
      };
    });
  }

  async #open(request: unknown, execution: ExecutionContext): Promise<RequestTransaction> {
    const factory = this.runtime.options.http.transaction;
    const queue = this.runtime.queue;
    const opened = factory ? await factory(queue, request, execution) : undefined;
    if (opened === undefined) return plainTransaction(queue);
    if (typeof opened !== 'object' || opened === null || typeof opened.commit !== 'function' || typeof opened.rollback !== 'function' || typeof opened.uow?.run !== 'function') {
      throw new RequestTransactionShapeError('http.transaction returned something other than { uow, commit(), rollback() }');
    }
    return opened;
  }

  async #rollback(transaction: RequestTransaction | undefined): Promise<void> {
    if (!transaction) return;
    try {
      await transaction.rollback();
    } catch (error) {
      this.#logger.error(`rolling back the request transaction failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  #accept(source: Observable<unknown>, execution: ExecutionContext, options: AcceptedOptions): Observable<unknown> {
    return new Observable((subscriber) =>
      source.subscribe({
        next: (value) => {
          try {
            subscriber.next(this.#acceptedBody(value, execution, options));
          } catch (error) {
            subscriber.error(error);
          }
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
  }

  /** Sets `Location` (and `Retry-After`) for an `@Accepted()` handler's task and answers `{ task: id }`; the 202 comes from its `@HttpCode`. */
  #acceptedBody(value: unknown, execution: ExecutionContext, options: AcceptedOptions): { task: string } {
    const id = typeof value === 'object' && value !== null ? (value as { id?: unknown }).id : undefined;
    if (typeof id !== 'string') {
      throw new AcceptedResultError(`an @Accepted() handler must return the submitted task (a TaskHandle), got ${value === null ? 'null' : typeof value}`);
    }
    const http = execution.switchToHttp();
    const adapter = this.adapterHost.httpAdapter;
    const template = options.statusPath ?? `${this.statusPath ?? '/tasks'}/:id`;
    adapter.setHeader(http.getResponse(), 'Location', this.marker.absoluteUrl(http.getRequest(), template.replace(':id', encodeURIComponent(id))));
    if (options.retryAfter !== undefined) adapter.setHeader(http.getResponse(), 'Retry-After', String(options.retryAfter));
    return { task: id };
  }
}
