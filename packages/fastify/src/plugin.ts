import { AsyncResource } from 'node:async_hooks';
import { type RequestUrlContext, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import {
  commitFailedAnswer,
  fastifyProxyTrust,
  NoRequestUnitOfWorkError,
  openRequestUnitOfWork,
  RequestScope,
  type RequestUnitOfWork,
  requestOrigin,
  requestUrlContext,
  type UrlContextOptions,
} from '@taskq/http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';
import { AlreadyRegisteredError } from './errors.js';
import { setState, STATE, stateOf } from './internal/state.js';
import { resolveOptions, type TaskqPluginOptions } from './options.js';
import { statusHandler } from './status.js';
import './augment.js';

async function taskq(fastify: FastifyInstance, options: TaskqPluginOptions): Promise<void> {
  const resolved = resolveOptions(options);
  if (fastify.hasDecorator('taskQueue') || fastify.hasRequestDecorator('taskQueue')) throw new AlreadyRegisteredError();
  // fastify-plugin shares this context with the parent, so its prefix is where the app's routes live.
  const urlOptions: UrlContextOptions = {
    basePath: resolved.basePath ?? fastify.prefix,
    routes: resolved.routes,
    allowedHosts: resolved.allowedHosts,
  };
  const inFlight = new Set<Promise<void>>();

  fastify.decorate('taskQueue', resolved.queue);
  fastify.decorateRequest('taskQueue', null as unknown as FastifyRequest['taskQueue']);
  fastify.decorateRequest(STATE, null);
  decorateUrlHelpers(fastify, urlOptions);

  fastify.addHook('onRequest', (request, _reply, done) => {
    let context: RequestUrlContext;
    try {
      // Checked before anything else runs: a bad or unknown Host is a 400 (BadRequestHostError's statusCode), and no
      // route sees it.
      context = urlContext(request, urlOptions);
    } catch (error) {
      done(error as Error);
      return;
    }
    openRequestUnitOfWork(resolved.queue, resolved.unitOfWork, request).then((unitOfWork) => {
      const scope = new RequestScope(unitOfWork, resolved.rollbackOn, resolved.logger);
      request.taskQueue = resolved.queue.bind(unitOfWork.uow);
      scope.run(() => {
        setState(request, {
          scope,
          resource: new AsyncResource('taskq.request'),
          statusPath: resolved.statusRoute?.path,
          context,
        });
        done();
      });
    }, done);
  });
  // Fastify 5 binds its own body parser to the request's context, but a custom parser or an earlier hook resuming from
  // a
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
  // A hijacked reply never passes onSend: settle by its status once it is out (documented: commit after the response
  // there).
  fastify.addHook('onResponse', async (request, reply) => {
    const state = stateOf(request);
    if (state) await track(inFlight, state.scope.settle(reply.statusCode)).catch(() => {});
  });
  fastify.addHook('onRequestAbort', async (request) => {
    stateOf(request)?.scope.abandon();
  });
  fastify.addHook('onClose', async () => {
    // Fastify runs onClose after in-flight requests finished; a commit still running (a hijacked reply) is waited for
    // too.
    await Promise.allSettled([...inFlight]);
    // A given queue stays open unless asked (closeQueue): a worker or another app may share it.
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
 * with 400 `TASKQ_BAD_REQUEST_HOST`. `fastify.close()` waits for in-flight
 * commits (and closes the queue only with `closeQueue: true`). Registering
 * it twice in one context is an error.
 */
export const taskqPlugin = fp(taskq, { name: '@taskq/fastify', fastify: '5.x' });

/**
 * The request's unit of work as the `unitOfWork` factory returned it (with
 * `@taskq/typeorm`, `requestUnitOfWork<TypeormRequestUnitOfWork>(request).manager`).
 * The type argument is the caller's promise; it is not checked at run time.
 * Throws `TASKQ_NO_REQUEST_UNIT_OF_WORK` outside the plugin's context.
 */
export function requestUnitOfWork<T extends RequestUnitOfWork = RequestUnitOfWork>(request: FastifyRequest): T {
  const state = stateOf(request);
  if (!state)
    throw new NoRequestUnitOfWorkError(
      'taskqPlugin is not registered in this context (or the request has not reached onRequest)',
    );
  return state.scope.unitOfWork as T;
}

function urlContext(request: FastifyRequest, options: UrlContextOptions): RequestUrlContext {
  return requestUrlContext(requestOrigin(request, fastifyProxyTrust), options);
}

function decorateUrlHelpers(fastify: FastifyInstance, options: UrlContextOptions): void {
  // onRequest checked the host and keeps the context; a request that has no state yet (an earlier hook) is checked
  // here.
  const contextOf = (request: FastifyRequest): RequestUrlContext =>
    stateOf(request)?.context ?? urlContext(request, options);
  const urls = (request: FastifyRequest): TaskRequest => {
    const state = stateOf(request);
    if (!state) return new TaskRequest(contextOf(request));
    state.urls ??= new TaskRequest(state.context);
    return state.urls;
  };
  fastify.decorateRequest(REQUEST_CONTEXT, function (this: FastifyRequest) {
    return contextOf(this);
  });
  fastify.decorateRequest('absoluteUrl', function (this: FastifyRequest, path: string) {
    return urls(this).absoluteUrl(path);
  });
  fastify.decorateRequest(
    'routeUrl',
    function (this: FastifyRequest, name: string, params?: Readonly<Record<string, string | number>>) {
      return urls(this).routeUrl(name, params);
    },
  );
}

function track(inFlight: Set<Promise<void>>, settled: Promise<void>): Promise<void> {
  const entry = settled.catch(() => {});
  inFlight.add(entry);
  void entry.finally(() => inFlight.delete(entry));
  return settled;
}

function commitFailedReply(reply: FastifyReply, error: unknown): string {
  const answer = commitFailedAnswer(error);
  // The handler's headers (Location, Set-Cookie, ...) described work that did not happen.
  for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
  reply.code(answer.status).headers(answer.headers);
  return answer.body;
}
