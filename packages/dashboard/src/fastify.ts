/**
 * `@taskq/dashboard/fastify`: the dashboard as a Fastify plugin, `app.register(taskqDashboard, { prefix:
 * '/admin/taskq', queue, authorize })`.
 *
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { dashboard } from './dashboard.js';
import type { DashboardOptions } from './options.js';

export type { DashboardOptions, DashboardPrincipal, RedactContext } from './options.js';

/** Options of {@link taskqDashboard}: the dashboard's, and Fastify's `prefix` (where it is mounted). */
export interface TaskqDashboardPluginOptions extends DashboardOptions {
  readonly prefix?: string;
}

/**
 * Serves the dashboard under the plugin's prefix. Its routes take every method below it; form posts are read by
 * the dashboard itself (a body parser of this plugin's own scope, so the application's parsers are untouched). The
 * worker-heartbeat listener stops when the app closes.
 */
export const taskqDashboard: FastifyPluginAsync<TaskqDashboardPluginOptions> = async (
  app: FastifyInstance,
  pluginOptions: TaskqDashboardPluginOptions,
) => {
  const { prefix: _prefix, ...options } = pluginOptions as TaskqDashboardPluginOptions & Record<string, unknown>;
  const handler = dashboard(options as DashboardOptions);
  app.addHook('onClose', async () => handler.close());
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) =>
    done(null, body),
  );
  const serve = async (request: FastifyRequest, reply: { hijack(): void; raw: import('node:http').ServerResponse }) => {
    reply.hijack();
    const raw = request.raw as typeof request.raw & { body?: unknown };
    raw.body = request.body;
    const mount = app.prefix;
    const full = request.raw.url ?? '/';
    const path = full.startsWith(mount) ? full.slice(mount.length) : full;
    await handler.handle(raw, reply.raw, mount, path || '/');
  };
  app.route({ method: ['GET', 'HEAD', 'POST'], url: '/', handler: serve, exposeHeadRoute: false });
  app.route({ method: ['GET', 'HEAD', 'POST'], url: '/*', handler: serve, exposeHeadRoute: false });
};
