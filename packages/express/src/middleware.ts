import { type RequestUrlContext, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import {
  commitFailedAnswer,
  expressProxyTrust,
  NoRequestUnitOfWorkError,
  openRequestUnitOfWork,
  RequestScope,
  type RequestUnitOfWork,
  requestOrigin,
  requestUrlContext,
  resolveHttpAdapterOptions,
} from '@taskq/http';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { MountedTwiceError } from './errors.js';
import { holdResponse } from './internal/hold-response.js';
import type { TaskqOptions } from './options.js';
import './request-augment.js';

const SCOPE: unique symbol = Symbol('taskq.express.scope');

type ScopedRequest = Request & { [SCOPE]?: RequestScope };

/**
 * The taskq middleware. Per request it
 * - opens a unit of work (with the `unitOfWork` factory when given, e.g. one
 *   that also opens a database transaction) and runs the rest of the request
 *   in it, so `req.taskQueue.submit(...)` (and `queue.submit(...)` below it)
 *   is published only if the request succeeds;
 * - commits before the first byte of the response goes out, and drops the
 *   tasks when the response is a failure (`rollbackOn`, 5xx by default), when
 *   an error reached {@link taskqErrors}, or when the client went away first;
 * - gives the request `absoluteUrl(path)` and `routeUrl(name, params)` and
 *   lets it travel as a task argument (as its URL context only);
 * - first of all, refuses a request whose Host (or trusted X-Forwarded-Host)
 *   is malformed or not in `allowedHosts`: `BadRequestHostError` (status 400)
 *   goes to the error handlers, and no route runs.
 *
 * @example
 * app.use(express.json());
 * app.use(taskq({ queue, routes: { news: '/news/:slug' } }));
 * app.post('/register', async (req, res) => { ...; await req.taskQueue.submit(sendWelcomeMail, user, req);
 * res.json(user); });
 * app.use(taskqErrors());
 */
export function taskq(options: TaskqOptions): RequestHandler {
  const resolved = resolveHttpAdapterOptions(options);
  return async function taskq(req: Request, res: Response, next: NextFunction): Promise<void> {
    const scoped = req as ScopedRequest;
    if (scoped[SCOPE]) throw new MountedTwiceError();
    // Checked before anything else runs: a bad or unknown Host is a 400 (through next(err)), and no route sees it.
    const context = requestUrlContext(requestOrigin(req, expressProxyTrust), {
      basePath: resolved.basePath ?? req.baseUrl,
      routes: resolved.routes,
      allowedHosts: resolved.allowedHosts,
    });
    installUrlHelpers(req, context);
    const scope = new RequestScope(
      await openRequestUnitOfWork(resolved.queue, resolved.unitOfWork, req),
      resolved.rollbackOn,
      resolved.logger,
    );
    scoped[SCOPE] = scope;
    req.taskQueue = resolved.queue.bind(scope.unitOfWork.uow);
    holdResponse(
      res,
      (status) => scope.settle(status),
      (raw, error, send) => {
        const answer = commitFailedAnswer(error);
        raw.statusCode = answer.status;
        raw.setHeader('content-type', answer.headers['content-type']);
        send(answer.body);
      },
    );
    res.once('close', () => scope.abandon());
    // Express 5 calls the next layers synchronously (or via setImmediate, which keeps the context), and body-parser
    // binds its callbacks: the route runs inside this context.
    scope.run(() => next());
  };
}

/**
 * Error middleware: a request whose error passes through here drops its tasks
 * and rolls back its unit of work, even if a later error handler answers with
 * a 4xx. Mount it after your routes and before your own error handlers; it
 * passes the error on unchanged.
 */
export function taskqErrors(): ErrorRequestHandler {
  return function taskqErrors(error: unknown, req: Request, _res: Response, next: NextFunction): void {
    (req as ScopedRequest)[SCOPE]?.fail();
    next(error);
  };
}

/**
 * The request's unit of work as the `unitOfWork` factory returned it (with
 * `@taskq/typeorm`, `requestUnitOfWork<TypeormRequestUnitOfWork>(req).manager`).
 * The type argument is the caller's promise; it is not checked at run time.
 * Throws `TASKQ_NO_REQUEST_UNIT_OF_WORK` where taskq() is not mounted.
 */
export function requestUnitOfWork<T extends RequestUnitOfWork = RequestUnitOfWork>(req: Request): T {
  const scope = (req as ScopedRequest)[SCOPE];
  if (!scope) throw new NoRequestUnitOfWorkError('taskq() is not mounted in front of this route');
  return scope.unitOfWork as T;
}

function installUrlHelpers(req: Request, context: RequestUrlContext): void {
  let helpers: TaskRequest | undefined;
  // Built on first use: most requests never build a URL.
  const urls = (): TaskRequest => (helpers ??= new TaskRequest(context));
  req[REQUEST_CONTEXT] = () => context;
  req.absoluteUrl = (path) => urls().absoluteUrl(path);
  req.routeUrl = (name, params) => urls().routeUrl(name, params);
}
