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
import type { Request, RequestHandler } from 'express';
import { describe, expectTypeOf, it } from 'vitest';
import { type RequestTaskQueue, requestUnitOfWork, type TaskqOptions, taskq, taskStatusHandler } from '../src/index.js';
import type { RequestUnitOfWork } from '@taskq/http';

async function sendWelcomeMail(email: string, request: UrlHelpers): Promise<number> {
  return email.length + request.absoluteUrl('/').length;
}

// Compile-time checks (tsc -p packages/express/test and the root typecheck); at run time they only have to load.
describe('public types of @taskq/express', () => {
  it('types req.taskQueue, the URL helpers and the request marker by declaration merging', () => {
    expectTypeOf<Request['taskQueue']>().toEqualTypeOf<RequestTaskQueue>();
    expectTypeOf<Request>().toMatchTypeOf<UrlHelpers>();
    expectTypeOf<Request[typeof REQUEST_CONTEXT]>().toEqualTypeOf<() => RequestUrlContext>();
    expectTypeOf<RequestTaskQueue>().toMatchTypeOf<TaskQueue>();
    expectTypeOf<RequestTaskQueue['with']>().returns.toEqualTypeOf<RequestTaskQueue>();
  });

  it('checks submit arguments against the task, with the live request standing in for UrlHelpers', () => {
    const check = (req: Request): void => {
      expectTypeOf(req.taskQueue.submit(sendWelcomeMail, 'ann@example.com', req)).resolves.toEqualTypeOf<
        TaskHandle<number>
      >();
      // @ts-expect-error the second argument must be UrlHelpers
      void req.taskQueue.submit(sendWelcomeMail, 'ann@example.com', 42);
      // @ts-expect-error a missing argument
      void req.taskQueue.submit(sendWelcomeMail, 'ann@example.com');
    };
    void check;
  });

  it('types the middleware, its options and the unit-of-work accessor', () => {
    const queue = createQueue({ registry: new TaskRegistry().add('mail', sendWelcomeMail), transport: memory() });
    expectTypeOf(taskq({ queue })).toEqualTypeOf<RequestHandler>();
    expectTypeOf<TaskqOptions['rollbackOn']>().toEqualTypeOf<((status: number) => boolean) | undefined>();
    // @ts-expect-error routes are path strings
    void (() => taskq({ queue, routes: { news: 1 } }));
    interface WithManager extends RequestUnitOfWork {
      readonly manager: { save(entity: object): Promise<object> };
    }
    expectTypeOf(requestUnitOfWork<WithManager>).returns.toEqualTypeOf<WithManager>();
    expectTypeOf(taskStatusHandler).returns.toEqualTypeOf<RequestHandler>();
    void queue.close();
  });
});
