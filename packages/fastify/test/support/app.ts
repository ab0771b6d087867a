import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Cleanup } from '../../../../test-support/cleanup.js';

/**
 * A fresh Fastify app listening on an ephemeral port, closed by `cleanup`.
 * `close()` cuts kept-alive client sockets (`forceCloseConnections`) so a
 * test does not wait out a client's keep-alive; a test about draining
 * passes `forceCloseConnections: 'idle'`.
 */
export async function serve(
  cleanup: Cleanup,
  build: (app: FastifyInstance) => void | Promise<void>,
  options: FastifyServerOptions = {},
): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = Fastify({ logger: false, forceCloseConnections: true, ...options });
  await build(app);
  cleanup.add(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, url: `http://127.0.0.1:${port}`, port };
}
