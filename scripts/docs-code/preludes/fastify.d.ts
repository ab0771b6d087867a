// Blocks about Fastify: `app` is a Fastify instance.
declare const app: import('fastify').FastifyInstance;
declare const token: string;
declare const taskqPlugin: typeof import('@taskq/fastify').taskqPlugin;
declare const accepted: typeof import('@taskq/fastify').accepted;
declare const taskStatusHandler: typeof import('@taskq/fastify').taskStatusHandler;
declare const requestUnitOfWork: typeof import('@taskq/fastify').requestUnitOfWork;
declare function canSeeTask(
  request: import('fastify').FastifyRequest,
  status: import('@taskq/core').TaskStatus,
): boolean;
