import type { BoundTaskQueue } from '@taskq/core';

/**
 * The queue as a request sees it (`request.taskQueue`): core's bound view, so every
 * submit joins the request's unit of work and is published only when the
 * request succeeds.
 */
export type RequestTaskQueue = BoundTaskQueue;
