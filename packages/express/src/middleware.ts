import { CommitFailedError, plainTransaction, RequestScope, type RequestTransaction, type RequestUrlContext, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { MountedTwiceError, NoRequestTransactionError } from './errors.js';
import { holdResponse } from './internal/hold-response.js';
import { type ResolvedOptions, resolveOptions, type TaskqOptions } from './options.js';
import { expressUrlContext } from './url-context.js';
import './request-augment.js';

const SCOPE: unique symbol = Symbol('taskq.express.scope');

type ScopedRequest = Request & { [SCOPE]?: RequestScope };

/**
 * The taskq middleware. Per request it
 * - opens a unit of work (inside a transaction when `transaction` is given)
 *   and runs the rest of the request in it, so `req.taskQueue.submit(...)`
 *   (and `queue.submit(...)` below it) is published only if the request succeeds;
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
 * app.post('/register', async (req, res) => { ...; await req.taskQueue.submit(sendWelcomeMail, user, req); res.json(user); });
 * app.use(taskqErrors());
 */
export function taskq(options: TaskqOptions): RequestHandler {
  const resolved = resolveOptions(options);
  return async function taskq(req: Request, res: Response, next: NextFunction): Promise<void> {
    const scoped = req as ScopedRequest;
    if (scoped[SCOPE]) throw new MountedTwiceError();
    // Checked before anything else runs: a bad or unknown Host is a 400 (through next(err)), and no route sees it.
    installUrlHelpers(req, expressUrlContext(req, resolved.basePath ?? req.baseUrl, resolved.routes, resolved.allowedHosts));
    const transaction = await openTransaction(resolved, req);
    const scope = new RequestScope(transaction, resolved.rollbackOn, resolved.logger);
    scoped[SCOPE] = scope;
    req.taskQueue = resolved.queue.bind(transaction.uow);
    holdResponse(res, (status) => scope.settle(status), commitFailedAnswer);
    res.once('close', () => scope.abandon());
    const run = transaction.run ? transaction.run.bind(transaction) : transaction.uow.run.bind(transaction.uow);
    // Express 5 calls the next layers synchronously (or via setImmediate, which keeps the context), and body-parser binds its callbacks: the route runs inside this context.
    run(() => next());
  };
}

/**
 * Error middleware: a request whose error passes through here drops its tasks
 * and rolls its transaction back, even if a later error handler answers with
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
 * The request's transaction as the `transaction` factory returned it (with
 * `@taskq/typeorm`, `requestTransaction<TypeormRequestTransaction>(req).manager`).
 * The type argument is the caller's promise; it is not checked at run time.
 */
export function requestTransaction<T extends RequestTransaction = RequestTransaction>(req: Request): T {
  const scope = (req as ScopedRequest)[SCOPE];
  if (!scope) throw new NoRequestTransactionError('taskq() is not mounted in front of this route');
  return scope.transaction as T;
}

async function openTransaction(options: ResolvedOptions, req: Request): Promise<RequestTransaction> {
  const opened = options.transaction ? await options.transaction(options.queue, req) : undefined;
  if (opened === undefined) return plainTransaction(options.queue);
  if (typeof opened !== 'object' || opened === null || typeof opened.commit !== 'function' || typeof opened.rollback !== 'function' || typeof opened.uow?.run !== 'function') {
    throw new NoRequestTransactionError('the transaction option returned something other than { uow, commit(), rollback() }');
  }
  return opened;
}

function installUrlHelpers(req: Request, context: RequestUrlContext): void {
  let helpers: TaskRequest | undefined;
  // Built on first use: most requests never build a URL.
  const urls = (): TaskRequest => (helpers ??= new TaskRequest(context));
  req[REQUEST_CONTEXT] = () => context;
  req.absoluteUrl = (path) => urls().absoluteUrl(path);
  req.routeUrl = (name, params) => urls().routeUrl(name, params);
}

function commitFailedAnswer(res: { statusCode: number; setHeader(name: string, value: string): unknown }, error: unknown, send: (body: string) => void): void {
  const failure = error instanceof CommitFailedError ? error : new CommitFailedError(error);
  res.statusCode = 500;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  send(JSON.stringify({ error: { code: failure.code, message: failure.message } }));
}
