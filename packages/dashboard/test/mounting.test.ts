import 'reflect-metadata';
import type { Server } from 'node:http';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createQueue, memory, memoryResultStore, silentLogger, type TaskQueue, TaskRegistry } from '@taskq/core';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../../test-support/cleanup.js';
import { taskqDashboard } from '../src/fastify.js';
import { dashboard } from '../src/index.js';
import { TaskqDashboardModule } from '../src/nest.js';
import { Client, urlOf } from './support/client.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function memoryQueue(): TaskQueue {
  const queue = createQueue({ registry: new TaskRegistry(), transport: memory(), store: memoryResultStore() });
  cleanup.add(() => queue.close());
  return queue;
}

const authorize = (): string => 'ada';

/**
 * The same visit on every binding: the overview's links and assets point below the mount path (or the base path),
 * the assets load, a form post with the page's token pauses a queue, and a path outside is not the dashboard's.
 */
async function visit(origin: string, mount: string, queue: TaskQueue, links = mount): Promise<void> {
  const client = new Client(origin);
  const page = await client.get(`${mount}/`);
  expect(page.status).toBe(200);
  expect(page.text).toContain(`href="${links}/tasks"`);
  expect(page.text).toContain(`src="${links}/assets/dashboard.js?v=`);
  expect(client.cookie).toMatch(/^taskq_dashboard_csrf=/);
  expect(page.headers.get('set-cookie')).toContain(`Path=${links}`);
  expect(page.headers.get('set-cookie')).toContain('SameSite=Strict');
  const css = await fetch(`${origin}${mount}/assets/dashboard.css`, { headers: { cookie: client.cookie } });
  expect(css.status).toBe(200);
  expect(css.headers.get('content-type')).toContain('text/css');
  expect((await client.get(`${mount}/tasks?state=queued`)).status).toBe(200);
  expect((await client.get(mount)).status).toBe(200);
  expect((await client.get(`${mount}/no-such-page`)).status).toBe(404);
  const posted = await client.post(`${mount}/actions/pause`, { queue: 'mail', back: '/tasks?state=queued' });
  expect(posted.status).toBe(303);
  expect(posted.location).toBe(`${links}/tasks?state=queued&done=paused`);
  expect(await queue.isPaused('mail')).toBe(true);
  expect((await fetch(`${origin}/elsewhere`)).status).toBe(404);
}

async function listenExpress(app: express.Express): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  cleanup.add(() => new Promise((resolve) => server.close(resolve)));
  return urlOf(server);
}

describe('mounting the dashboard', () => {
  it('in Express with app.use(path, handler), even behind body parsers', async () => {
    const queue = memoryQueue();
    const app = express();
    app.use(express.urlencoded({ extended: false }));
    const handler = dashboard({ queue, authorize, logger: silentLogger });
    cleanup.add(() => handler.close());
    app.use('/admin/taskq', handler);
    await visit(await listenExpress(app), '/admin/taskq', queue);
  });

  it('in Express behind a proxy that adds a prefix: links use basePath', async () => {
    const queue = memoryQueue();
    const app = express();
    const handler = dashboard({ queue, authorize, basePath: '/ops/taskq', logger: silentLogger });
    cleanup.add(() => handler.close());
    app.use('/admin/taskq', handler);
    await visit(await listenExpress(app), '/admin/taskq', queue, '/ops/taskq');
  });

  it('in Fastify with the plugin and a prefix', async () => {
    const queue = memoryQueue();
    const app = Fastify();
    cleanup.add(() => app.close());
    app.post('/elsewhere-json', async (request) => request.body);
    await app.register(taskqDashboard, { prefix: '/admin/taskq', queue, authorize, logger: silentLogger });
    await app.listen({ port: 0, host: '127.0.0.1' });
    await visit(urlOf(app.server), '/admin/taskq', queue);
    // The plugin's body parser stays in its own scope: the application's JSON routes still parse JSON.
    const json = await fetch(`${urlOf(app.server)}/elsewhere-json`, {
      method: 'POST',
      body: JSON.stringify({ a: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    expect(await json.json()).toEqual({ a: 1 });
  });

  for (const platform of ['express', 'fastify'] as const) {
    it(`in Nest (${platform} platform) with TaskqDashboardModule.forRootAsync`, async () => {
      const queue = memoryQueue();
      const QUEUE = Symbol('queue');
      class QueueModule {}
      Module({ providers: [{ provide: QUEUE, useValue: queue }], exports: [QUEUE] })(QueueModule);
      class AppModule {}
      Module({
        imports: [
          TaskqDashboardModule.forRootAsync({
            path: '/admin/taskq',
            imports: [QueueModule],
            inject: [QUEUE],
            useFactory: (q: TaskQueue) => ({ queue: q, authorize, logger: silentLogger }),
          }),
        ],
      })(AppModule);
      const app = await NestFactory.create(
        AppModule,
        platform === 'express' ? new ExpressAdapter() : new FastifyAdapter(),
        { logger: false },
      );
      cleanup.add(() => app.close());
      await app.listen(0, '127.0.0.1');
      await visit(await app.getUrl().then((u) => u.replace('[::1]', '127.0.0.1')), '/admin/taskq', queue);
    });
  }
});
