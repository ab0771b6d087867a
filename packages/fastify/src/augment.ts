import type { RequestUrlContext, TaskQueue } from '@taskq/core';
import type { REQUEST_CONTEXT } from '@taskq/core/adapter';
import type { RequestTaskQueue } from './request-queue.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The application's queue, as given to taskqPlugin: submits here publish at once, outside any request. */
    taskQueue: TaskQueue;
  }
  interface FastifyRequest {
    /** The queue, bound to this request: submits are published only if the request succeeds. */
    taskQueue: RequestTaskQueue;
    /** `path` (under the plugin's prefix) as an absolute URL, honouring `trustProxy`. */
    absoluteUrl(path: string): string;
    /** A named route given to taskqPlugin({ routes }) as an absolute URL; extra parameters become the query string. */
    routeUrl(name: string, params?: Readonly<Record<string, string | number>>): string;
    /** What travels when the request is a task argument. */
    [REQUEST_CONTEXT]: () => RequestUrlContext;
  }
}
