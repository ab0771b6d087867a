import { AsyncResource } from 'node:async_hooks';
import { type AllowedHosts, CommitFailedError, plainTransaction, RequestScope, type RequestTransaction, type RequestUrlContext, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import { AlreadyRegisteredError, NoRequestTransactionError } from './errors.js';
import { setState, STATE, stateOf } from './internal/state.js';
import { type ResolvedOptions, resolveOptions, type TaskqPluginOptions } from './options.js';
import { statusHandler } from './status.js';
import { fastifyUrlContext } from './url-context.js';
import './augment.js';

async function taskq(fastify: FastifyInstance, options: TaskqPluginOptions): Promise<void> {
  const resolved = resolveOptions(options);
  if (fastify.hasDecorator('taskQueue') || fastify.hasRequestDecorator('taskQueue')) throw new AlreadyRegisteredError();
  // fastify-plugin shares this context with the parent, so its prefix is where the app's routes live.
  const basePath = resolved.basePath ?? fastify.prefix;
  const inFlight = new Set<Promise<void>>();

  fastify.decorate('taskQueue', resolved.queue);
  fastify.decorateRequest('taskQueue', null as unknown as FastifyRequest['taskQueue']);
  fastify.decorateRequest(STATE, null);
  decorateUrlHelpers(fastify, basePath, resolved.routes, resolved.allowedHosts);

  fastify.addHook('onRequest', (request, _reply, done) => {
    let context: RequestUrlContext;
    try {
      // Checked before anything else runs: a bad or unknown Host is a 400 (BadRequestHostError's statusCode), and no route sees it.
      context = fastifyUrlContext(request, basePath, resolved.routes, resolved.allowedHosts);
    } catch (error) {
      done(error as Error);
      return;
    }
    open(resolved, request).then((transaction) => {
      const scope = new RequestScope(transaction, resolved.rollbackOn, resolved.logger);
      request.taskQueue = resolved.queue.bind(transaction.uow);
      const run = transaction.run ? transaction.run.bind(transaction) : transaction.uow.run.bind(transaction.uow);
      run(() => {
        setState(request, { scope, resource: new AsyncResource('taskq.request'), statusPath: resolved.statusRoute?.path, context });
        done();
      });
    }, done);
  });
  // Fastify 5 binds its own body parser to the request's context, but a custom parser or an earlier hook resuming from a
  // shared callback (a pool, a cache) may not: bring the context back before validation and before the handler.
  const reenter = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const state = stateOf(request);
    if (state) state.resource.runInAsyncScope(done);
    else done();
  };
  fastify.addHook('preValidation', reenter);
  fastify.addHook('preHandler', reenter);

  fastify.addHook('onError', async (request) => {
    stateOf(request)?.scope.fail();
  });
  fastify.addHook('onSend', async (request, reply, payload) => {
    const state = stateOf(request);
    if (!state) return payload;
    const settled = state.scope.settle(reply.statusCode);
    track(inFlight, settled);
    try {
      await settled;
      return payload;
    } catch (error) {
      return commitFailedReply(reply, error);
    }
  });
  // A hijacked reply never passes onSend: settle by its status once it is out (documented: commit after the response there).
  fastify.addHook('onResponse', async (request, reply) => {
    const state = stateOf(request);
    if (state) await track(inFlight, state.scope.settle(reply.statusCode)).catch(() => {});
  });
  fastify.addHook('onRequestAbort', async (request) => {
    stateOf(request)?.scope.abandon();
  });
  fastify.addHook('onClose', async () => {
    // Fastify runs onClose after in-flight requests finished; a commit still running (a hijacked reply) is waited for too.
    await Promise.allSettled([...inFlight]);
    if (resolved.closeQueue) await resolved.queue.close();
  });

  if (resolved.statusRoute) {
    fastify.get(resolved.statusRoute.path, statusHandler(resolved.statusRoute));
  }
}

/**
 * The taskq Fastify plugin: `app.register(taskqPlugin, { queue, routes })`.
 *
 * Decorates `fastify.taskQueue` (the queue) and `request.taskQueue` (a view
 * bound to the request's unit of work), gives requests `absoluteUrl` /
 * `routeUrl` and lets them travel as task arguments. Each request's tasks
 * are committed in `onSend`, before the reply is written, and dropped when
 * the request throws (`onError`), answers a failure status (`rollbackOn`) or
 * the client goes away. Before all that, `onRequest` refuses a request whose
 * Host (or trusted X-Forwarded-Host) is malformed or not in `allowedHosts`
 * with 400 `TASKQ_BAD_REQUEST_HOST`. `fastify.close()` waits for in-flight commits and
 * closes the queue. Registering it twice in one context is an error.
 */
export const taskqPlugin = fp(taskq, { name: '@taskq/fastify', fastify: '5.x' });

/**
 * The request's transaction as the `transaction` factory returned it (with
 * `@taskq/typeorm`, `requestTransaction<TypeormRequestTransaction>(request).manager`).
 * The type argument is the caller's promise; it is not checked at run time.
 */
export function requestTransaction<T extends RequestTransaction = RequestTransaction>(request: FastifyRequest): T {
  const state = stateOf(request);
  if (!state) throw new NoRequestTransactionError('taskqPlugin is not registered in this context (or the request has not reached onRequest)');
  return state.scope.transaction as T;
}

async function open(options: ResolvedOptions, request: FastifyRequest): Promise<RequestTransaction> {
  const opened = options.transaction ? await options.transaction(options.queue, request) : undefined;
  if (opened === undefined) return plainTransaction(options.queue);
  if (typeof opened !== 'object' || opened === null || typeof opened.commit !== 'function' || typeof opened.rollback !== 'function' || typeof opened.uow?.run !== 'function') {
    throw new NoRequestTransactionError('the transaction option returned something other than { uow, commit(), rollback() }');
  }
  return opened;
}

function decorateUrlHelpers(fastify: FastifyInstance, basePath: string, routes: Readonly<Record<string, string>>, allowedHosts: AllowedHosts): void {
  // onRequest checked the host and keeps the context; a request that has no state yet (an earlier hook) is checked here.
  const urlContext = (request: FastifyRequest): RequestUrlContext => stateOf(request)?.context ?? fastifyUrlContext(request, basePath, routes, allowedHosts);
  const urls = (request: FastifyRequest): TaskRequest => {
    const state = stateOf(request);
    if (!state) return new TaskRequest(urlContext(request));
    state.urls ??= new TaskRequest(state.context);
    return state.urls;
  };
  fastify.decorateRequest(REQUEST_CONTEXT, function (this: FastifyRequest) {
    return urlContext(this);
  });
  fastify.decorateRequest('absoluteUrl', function (this: FastifyRequest, path: string) {
    return urls(this).absoluteUrl(path);
  });
  fastify.decorateRequest('routeUrl', function (this: FastifyRequest, name: string, params?: Readonly<Record<string, string | number>>) {
    return urls(this).routeUrl(name, params);
  });
}

function track(inFlight: Set<Promise<void>>, settled: Promise<void>): Promise<void> {
  const entry = settled.catch(() => {});
  inFlight.add(entry);
  void entry.finally(() => inFlight.delete(entry));
  return settled;
}

function commitFailedReply(reply: FastifyReply, error: unknown): string {
  const failure = error instanceof CommitFailedError ? error : new CommitFailedError(error);
  // The handler's headers (Location, Set-Cookie, ...) described work that did not happen.
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(500).header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify({ error: { code: failure.code, message: failure.message } });
}
