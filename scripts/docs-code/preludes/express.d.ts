// Blocks about Express: `app` is an Express application, `req` a request inside a handler.
declare const app: import('express').Express;
declare const req: import('express').Request;
declare const token: string;
declare const taskq: typeof import('@taskq/express').taskq;
declare const taskqErrors: typeof import('@taskq/express').taskqErrors;
declare const accepted: typeof import('@taskq/express').accepted;
declare const taskStatusHandler: typeof import('@taskq/express').taskStatusHandler;
declare const requestUnitOfWork: typeof import('@taskq/express').requestUnitOfWork;
declare const myErrorHandler: import('express').ErrorRequestHandler;
declare function canSeeTask(req: import('express').Request, status: import('@taskq/core').TaskStatus): boolean;
// An application's authentication puts its user on the request.
declare namespace Express {
  interface Request {
    user?: { id: number };
  }
}
