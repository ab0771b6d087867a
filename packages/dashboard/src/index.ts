/**
 * `@taskq/dashboard`: a web UI for taskq's queues, tasks, workers and dead letters, as a plain Node request handler.
 * `@taskq/dashboard/fastify` and `@taskq/dashboard/nest` mount it in those frameworks; Express takes the handler as
 * it is: `app.use('/admin/taskq', dashboard({ queue, authorize }))`.
 *
 * @packageDocumentation
 */
export { dashboard, type DashboardHandler } from './dashboard.js';
export type { DashboardOptions, DashboardPrincipal, RedactContext } from './options.js';
export { DashboardForbiddenError, DashboardCsrfError, DashboardReadOnlyError } from './errors.js';
