import {
  createQueue,
  memory,
  type RequestUrlContext,
  TaskRegistry,
  type TaskHandle,
  type TaskQueue,
  type UrlHelpers,
} from '@taskq/core';
import type { REQUEST_CONTEXT } from '@taskq/core/adapter';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { describe, expectTypeOf, it } from 'vitest';
import {
  accepted,
  type RequestTaskQueue,
  requestUnitOfWork,
  type TaskqPluginOptions,
  taskqPlugin,
} from '../src/index.js';
import type { RequestUnitOfWork } from '@taskq/http';

async function sendWelcomeMail(email: string, request: UrlHelpers): Promise<number> {
  return email.length + request.absoluteUrl('/').length;
}

// Compile-time checks (tsc -p packages/fastify/test and the root typecheck); at run time they only have to load.
describe('public types of @taskq/fastify', () => {
  it('types fastify.taskQueue, request.taskQueue, the URL helpers and the request marker by declaration merging', () => {
    expectTypeOf<FastifyInstance['taskQueue']>().toEqualTypeOf<TaskQueue>();
    expectTypeOf<FastifyRequest['taskQueue']>().toEqualTypeOf<RequestTaskQueue>();
    expectTypeOf<FastifyRequest>().toMatchTypeOf<UrlHelpers>();
    expectTypeOf<FastifyRequest[typeof REQUEST_CONTEXT]>().toEqualTypeOf<() => RequestUrlContext>();
    expectTypeOf<RequestTaskQueue['with']>().returns.toEqualTypeOf<RequestTaskQueue>();
  });

  it('checks submit arguments against the task, with the live request standing in for UrlHelpers', () => {
    const check = (request: FastifyRequest): void => {
      expectTypeOf(request.taskQueue.submit(sendWelcomeMail, 'ann@example.com', request)).resolves.toEqualTypeOf<
        TaskHandle<number>
      >();
      // @ts-expect-error the second argument must be UrlHelpers
      void request.taskQueue.submit(sendWelcomeMail, 'ann@example.com', 42);
    };
    void check;
  });

  it('types the plugin options, accepted() and the unit-of-work accessor', () => {
    const queue = createQueue({ registry: new TaskRegistry().add('mail', sendWelcomeMail), transport: memory() });
    const register = (app: FastifyInstance): void => {
      void app.register(taskqPlugin, { queue, routes: { news: '/news/:slug' }, statusRoute: { path: '/jobs/:id' } });
      // @ts-expect-error queue is required
      void app.register(taskqPlugin, { routes: {} });
    };
    void register;
    expectTypeOf<TaskqPluginOptions['closeQueue']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf(accepted).returns.toEqualTypeOf<FastifyReply>();
    interface WithManager extends RequestUnitOfWork {
      readonly manager: { save(entity: object): Promise<object> };
    }
    expectTypeOf(requestUnitOfWork<WithManager>).returns.toEqualTypeOf<WithManager>();
    void queue.close();
  });
});
