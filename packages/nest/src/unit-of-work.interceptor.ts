import {
  type CallHandler,
  type ExecutionContext,
  HttpException,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import {
  type AcceptedOptions,
  acceptedAnswer,
  commitFailedAnswer,
  openRequestUnitOfWork,
  RequestScope,
  submittedTaskId,
} from '@taskq/http';
import { Observable, type Subscription, throwError } from 'rxjs';
import { ACCEPTED_METADATA } from './accepted.decorator.js';
import { attachUnitOfWork } from './current-unit-of-work.decorator.js';
import { AcceptedResultError } from './errors.js';
import { asBadRequest } from './internal/bad-host.js';
import { nestLogger } from './internal/nest-logger.js';
import { RequestMarker } from './request-marker.js';
import { TaskqRuntime } from './taskq-runtime.js';
import { TASKQ_STATUS_PATH } from './tokens.js';

/**
 * Registered globally by `TaskqModule`: around every HTTP handler it checks
 * the request's host against `http.allowedHosts` (400 otherwise, before the
 * handler runs), opens the request's unit of work (with the
 * `http.unitOfWork` factory, e.g. one that also opens a database
 * transaction) and marks the request so it can be a task argument.
 *
 * The handler runs inside the unit of work; its tasks are published by
 * `commit()` once its observable completed, and only then is the response
 * sent, so a `202 Accepted` always names a task that exists. If the handler
 * fails, or its status matches `http.rollbackOn` (5xx by default), the tasks
 * are dropped; an error goes on to Nest's exception filters. A failed commit
 * answers 500 `TASKQ_COMMIT_FAILED` instead of the handler's response. Handlers that write the response themselves
 * (`@Res()` without
 * `passthrough`) answer before the commit; `@Sse()` streams get no unit of
 * work (their submits publish at once).
 */
@Injectable()
export class TaskqUnitOfWorkInterceptor implements NestInterceptor {
  readonly #logger = nestLogger('TaskqModule');

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
    const factory = this.runtime.requestUnitOfWork;
    if (factory === false) return accepted ? this.#accept(next.handle(), execution, accepted) : next.handle();

    return new Observable<unknown>((subscriber) => {
      let scope: RequestScope | undefined;
      let inner: Subscription | undefined;
      let settled = false;
      const values: unknown[] = [];

      const fail = (error: unknown): void => {
        settled = true;
        scope?.fail();
        subscriber.error(error);
      };
      const complete = async (): Promise<void> => {
        settled = true;
        try {
          // The platform set the handler's status (@HttpCode, or res.status() with passthrough) before the handler ran.
          await scope?.settle(statusOf(execution.switchToHttp().getResponse()));
        } catch (error) {
          // Nothing was promised to the client yet, so it gets the failure instead of the handler's answer.
          const answer = commitFailedAnswer(error);
          // The handler's headers (Set-Cookie, ...) described work that did not happen.
          clearHeaders(execution.switchToHttp().getResponse());
          subscriber.error(new HttpException(JSON.parse(answer.body) as object, answer.status, { cause: error }));
          return;
        }
        try {
          for (const value of values)
            subscriber.next(accepted ? this.#acceptedBody(value, execution, accepted) : value);
        } catch (error) {
          subscriber.error(error);
          return;
        }
        subscriber.complete();
      };

      openRequestUnitOfWork(this.runtime.queue, factory, request)
        .then((opened) => {
          scope = new RequestScope(opened, http.rollbackOn, this.#logger);
          attachUnitOfWork(request, opened);
          if (subscriber.closed) return scope.abandon();
          // Nest keeps waiting for a handler whose client went away: nobody will learn its task ids, so drop them.
          rawResponse(execution.switchToHttp().getResponse())?.once('close', () => {
            if (!settled) scope?.abandon();
          });
          // next.handle() binds the handler to the async context it is called in, so both happen inside run().
          inner = scope.run(() =>
            next.handle().subscribe({
              next: (value) => values.push(value),
              error: (error: unknown) => fail(error),
              complete: () => void complete(),
            }),
          );
        })
        .catch((error: unknown) => fail(error));

      return () => {
        inner?.unsubscribe();
        // Torn down before the handler finished (the client went away): its work is dropped.
        if (!settled) scope?.abandon();
      };
    });
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

  /**
   * Sets `Location` (and `Retry-After`) for an `@Accepted()` handler's task and answers `{ task: id }`; the 202 comes
   * from its `@HttpCode`.
   */
  #acceptedBody(value: unknown, execution: ExecutionContext, options: AcceptedOptions): { readonly task: string } {
    const id = submittedTaskId(value);
    if (id === undefined) {
      throw new AcceptedResultError(
        `an @Accepted() handler must return the submitted task (a TaskHandle), got ${value === null ? 'null' : typeof value}`,
      );
    }
    const http = execution.switchToHttp();
    const answer = acceptedAnswer(
      { id },
      options,
      (path) => this.marker.absoluteUrl(http.getRequest(), path),
      `${this.statusPath ?? '/tasks'}/:id`,
    );
    for (const [name, header] of Object.entries(answer.headers))
      this.adapterHost.httpAdapter.setHeader(http.getResponse(), name, header);
    return answer.body;
  }
}

/**
 * The status a Nest platform's response will be sent with (Express's `res` and Fastify's `reply` both have
 * `statusCode`).
 */
function statusOf(response: unknown): number {
  const status =
    typeof response === 'object' && response !== null ? (response as { statusCode?: unknown }).statusCode : undefined;
  return typeof status === 'number' ? status : 200;
}

type HeaderBag = {
  getHeaderNames?(): string[];
  getHeaders?(): Record<string, unknown>;
  removeHeader?(name: string): unknown;
};

/** Removes every header set so far, on Express's `res` (a ServerResponse) and on Fastify's `reply` alike. */
function clearHeaders(response: unknown): void {
  const bag = response as HeaderBag | null;
  if (typeof bag?.removeHeader !== 'function') return;
  const names = typeof bag.getHeaderNames === 'function' ? bag.getHeaderNames() : Object.keys(bag.getHeaders?.() ?? {});
  for (const name of names) bag.removeHeader(name);
}

/** The Node response under a Nest platform's response object (Fastify's `reply.raw`, or Express's `res` itself). */
function rawResponse(response: unknown): { once(event: 'close', listener: () => void): unknown } | undefined {
  const candidate = (response as { raw?: unknown } | null)?.raw ?? response;
  return typeof (candidate as { once?: unknown } | null)?.once === 'function'
    ? (candidate as { once(event: 'close', listener: () => void): unknown })
    : undefined;
}
