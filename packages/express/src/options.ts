import type { HttpAdapterOptions } from '@taskq/http';
import type { Request } from 'express';

/**
 * Options of {@link taskq}: the queue (`req.taskQueue` is a per-request view
 * of it), named `routes` for `req.routeUrl()`, a per-request `unitOfWork`
 * factory, `rollbackOn` (a request that reached `taskqErrors()` is dropped
 * whatever its status), `basePath` (instead of `req.baseUrl`), `logger` and
 * `allowedHosts`.
 */
export type TaskqOptions = HttpAdapterOptions<Request>;
