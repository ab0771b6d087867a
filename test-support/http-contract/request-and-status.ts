// The HTTP adapter contract: the request as a task argument, and 202 Accepted with the status route.
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../cleanup.js';
import { eventually, sleep } from '../wait.js';
import { type ContractApp, CONTRACT_ROUTES, resetFixtures, type StartContractApp, taskGate } from './fixtures.js';

type Links = { readonly news: string; readonly home: string };

/** Polls the status route until the task finished; its last body. */
async function finished(app: ContractApp, id: string, basePath = ''): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  await eventually(async () => {
    body = (await (await fetch(`${app.url}${basePath}/tasks/${id}`)).json()) as Record<string, unknown>;
    return body.state === 'succeeded' || body.state === 'dead';
  }, `task ${id} to finish`);
  return body;
}

/**
 * `POST /links/big-news`: the links the handler built directly and those the worker built from the travelled request.
 */
async function directAndQueued(
  app: ContractApp,
  headers: Record<string, string> = {},
  basePath = '',
): Promise<{ direct: Links; queued: unknown }> {
  const response = await fetch(`${app.url}${basePath}/links/big-news`, { method: 'POST', headers });
  expect(response.status).toBeLessThan(300);
  const { direct, task } = (await response.json()) as { direct: Links; task: string };
  const body = await finished(app, task, basePath);
  expect(body.state).toBe('succeeded');
  return { direct, queued: body.result };
}

/** Declares the suite for one adapter. */
export function requestArgumentContract(adapter: string, start: StartContractApp): void {
  describe(`${adapter}: a request as a task argument (HTTP adapter contract)`, () => {
    const cleanup = new Cleanup();
    afterEach(async () => {
      await cleanup.run();
      resetFixtures();
    });

    it('travels as its URL context only: no cookie, Authorization header or body in the raw message', async () => {
      const app = await start({ worker: false }, cleanup);
      const response = await fetch(`${app.url}/links/launch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: 'session=s3cr3t-session',
          authorization: 'Bearer s3cr3t-token',
          'accept-language': 'de-CH',
          'user-agent': 'request-argument-test',
          'x-api-key': 's3cr3t-key',
        },
        body: JSON.stringify({ password: 's3cr3t-password' }),
      });
      expect(response.status).toBeLessThan(300);
      const raw = await app.takeRawMessage();
      expect(raw).toBeDefined();
      expect(raw).not.toMatch(/s3cr3t|cookie|authorization|password|x-api-key|socket/i);
      const envelope = JSON.parse(raw ?? '{}') as { args: unknown[] };
      expect(envelope.args[0]).toEqual({
        $t: 'taskq.request',
        v: {
          protocol: 'http',
          host: '127.0.0.1',
          port: app.port,
          basePath: '',
          routes: CONTRACT_ROUTES,
          headers: { 'accept-language': 'de-CH', 'user-agent': 'request-argument-test' },
        },
      });
      expect(envelope.args[1]).toBe('launch');
      console.log(
        `[${adapter}] raw message ${raw?.length} bytes; request argument = ${JSON.stringify(envelope.args[0])}`,
      );
    });

    it('gives the same URLs called directly with the live request and run in a worker, under the base path the app is mounted at', async () => {
      const root = await start({}, cleanup);
      const atRoot = await directAndQueued(root);
      expect(atRoot.direct).toEqual({
        news: `http://127.0.0.1:${root.port}/news/big-news?ref=push`,
        home: `http://127.0.0.1:${root.port}/`,
      });
      expect(atRoot.queued).toEqual(atRoot.direct);

      const mounted = await start({ basePath: '/api' }, cleanup);
      const underApi = await directAndQueued(mounted, {}, '/api');
      expect(underApi.direct).toEqual({
        news: `http://127.0.0.1:${mounted.port}/api/news/big-news?ref=push`,
        home: `http://127.0.0.1:${mounted.port}/api/`,
      });
      expect(underApi.queued).toEqual(underApi.direct);
    });

    it('behind a trusted proxy takes scheme, host and port from X-Forwarded-*; untrusted, ignores them', async () => {
      const allowedHosts = ['127.0.0.1', 'shop.example.com'];
      const trusted = await start({ trustProxy: true, allowedHosts }, cleanup);
      const viaProxy = await directAndQueued(trusted, { 'x-forwarded-proto': 'https' });
      expect(viaProxy.direct).toEqual({
        news: `https://127.0.0.1:${trusted.port}/news/big-news?ref=push`,
        home: `https://127.0.0.1:${trusted.port}/`,
      });
      expect(viaProxy.queued).toEqual(viaProxy.direct);

      const publicHost = await directAndQueued(trusted, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'shop.example.com',
      });
      expect(publicHost.queued).toEqual({
        news: 'https://shop.example.com/news/big-news?ref=push',
        home: 'https://shop.example.com/',
      });
      expect(publicHost.queued).toEqual(publicHost.direct);

      const withPort = await directAndQueued(trusted, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'shop.example.com',
        'x-forwarded-port': '8443',
      });
      expect(withPort.queued).toEqual({
        news: 'https://shop.example.com:8443/news/big-news?ref=push',
        home: 'https://shop.example.com:8443/',
      });
      expect(withPort.queued).toEqual(withPort.direct);

      const untrusted = await start({ allowedHosts }, cleanup);
      const spoofed = await directAndQueued(untrusted, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-port': '1',
      });
      expect(spoofed.queued).toEqual({
        news: `http://127.0.0.1:${untrusted.port}/news/big-news?ref=push`,
        home: `http://127.0.0.1:${untrusted.port}/`,
      });
      expect(spoofed.queued).toEqual(spoofed.direct);
    });
  });

  describe(`${adapter}: 202 Accepted and the status route (HTTP adapter contract)`, () => {
    const cleanup = new Cleanup();
    afterEach(async () => {
      await cleanup.run();
      resetFixtures();
    });

    it('answers 202 + Location + Retry-After; polling it goes queued → active → succeeded with the result; never cached', async () => {
      const app = await start({ worker: false }, cleanup);
      const response = await fetch(`${app.url}/jobs/gated`, { method: 'POST' });
      expect(response.status).toBe(202);
      const { task } = (await response.json()) as { task: string };
      const location = response.headers.get('location');
      expect(location).toBe(`${app.url}/tasks/${task}`);
      expect(response.headers.get('retry-after')).toBe('1');

      const seen: string[] = [];
      let last: Record<string, unknown> = {};
      const poll = async (): Promise<string> => {
        const status = await fetch(location ?? '');
        expect(status.status).toBe(200);
        expect(status.headers.get('cache-control')).toBe('no-store');
        last = (await status.json()) as Record<string, unknown>;
        if (seen.at(-1) !== last.state) seen.push(String(last.state));
        return String(last.state);
      };
      expect(await poll()).toBe('queued');
      await app.startWorker();
      await eventually(async () => (await poll()) === 'active', 'the task to start');
      await sleep(30);
      expect(await poll()).toBe('active');
      taskGate.current.open();
      await eventually(async () => (await poll()) === 'succeeded', 'the task to succeed');
      expect(seen).toEqual(['queued', 'active', 'succeeded']);
      expect(last).toEqual({
        id: task,
        state: 'succeeded',
        attempts: 1,
        result: { month: '2026-01', rows: 42 },
        enqueuedAt: expect.any(String),
        startedAt: expect.any(String),
        finishedAt: expect.any(String),
      });
      console.log(`[${adapter}] states seen by polling ${location}: ${seen.join(' → ')}`);
    });

    it('answers 404 for an unknown or malformed id', async () => {
      const app = await start({}, cleanup);
      const unknown = await fetch(`${app.url}/tasks/0190f5b4-0000-7000-8000-000000000000`);
      expect(unknown.status).toBe(404);
      expect(JSON.stringify(await unknown.json())).toContain(
        '"error":{"code":"TASKQ_UNKNOWN_TASK","message":"no task with this id"}',
      );
      expect((await fetch(`${app.url}/tasks/not-a-task-id'%20OR%201=1`)).status).toBe(404);
    });

    it('shows task name, queue, message and stack of a failed task only with internals', async () => {
      const app = await start({ internals: true }, cleanup);
      const { task } = (await (await fetch(`${app.url}/jobs/secret`, { method: 'POST' })).json()) as { task: string };
      const body = (await finished(app, task)) as {
        state: string;
        name: string;
        queue: string;
        error: { code: string; message?: string; stack?: string };
      };
      expect(body.state).toBe('dead');
      expect(body.name).toBe('contract.failWithSecret');
      expect(typeof body.queue).toBe('string');
      expect(body.error.code).toBe('23505');
      expect(body.error.message).toContain('users_email_key');
      expect(body.error.stack).toContain('users_email_key');
    });
  });
}
