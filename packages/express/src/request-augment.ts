import type { RequestUrlContext } from '@taskq/core';
import type { REQUEST_CONTEXT } from '@taskq/core/adapter';
import type { RequestTaskQueue } from './request-queue.js';

declare global {
  namespace Express {
    /** Added by the taskq() middleware. */
    interface Request {
      /** The queue, bound to this request: submits are published only if the request succeeds. */
      taskQueue: RequestTaskQueue;
      /** `path` (from where taskq() is mounted) as an absolute URL, honouring `trust proxy`. */
      absoluteUrl(path: string): string;
      /** A named route given to taskq({ routes }) as an absolute URL; extra parameters become the query string. */
      routeUrl(name: string, params?: Readonly<Record<string, string | number>>): string;
      /** What travels when the request is a task argument. */
      [REQUEST_CONTEXT]: () => RequestUrlContext;
    }
  }
}
