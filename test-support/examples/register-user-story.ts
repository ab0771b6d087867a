import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ExampleLayout, RunningExample } from './running-example.js';

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function eventually<T>(
  read: () => T | undefined | Promise<T | undefined>,
  what: string,
  output: () => string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The register-user story of the examples over HTTP, against the built example (`npm run build` first) in both
 * modes: embedded (no services) and with RabbitMQ + PostgreSQL, the worker in its own process.
 */
export function describeRegisterUserStory(example: ExampleLayout): void {
  const running: RunningExample[] = [];
  afterEach(async () => {
    for (const started of running.splice(0)) await started.stop();
  });

  beforeAll(() => {
    const start = join(example.dir, 'dist/start.js');
    if (!existsSync(start)) throw new Error(`${start} is missing: run "npm run build" first`);
  });

  describe.each(['embedded', 'services'] as const)(`examples/${example.name}: the register-user story (%s)`, (mode) => {
    it('register mails a link to the request’s host, the usr typo mails nothing, publish pushes, reports answer 202 and progress to succeeded; SIGTERM exits 0', async () => {
      const started = await RunningExample.start(example, mode);
      running.push(started);
      const { url } = started;
      const output = (): string => started.output;

      const registered = await post(`${url}/register`, { email: 'ada@example.com', name: 'Ada' });
      expect(registered.status, output()).toBe(201);
      const { user } = (await registered.json()) as { user: { id: number } };
      const welcome = await eventually(
        () => started.deliveries('mail').find((m) => m.to === 'ada@example.com'),
        'the welcome mail',
        output,
      );
      expect(welcome.text).toContain(`${url}/users/${user.id}`);
      // With services, the worker process ran it.
      expect(welcome.pid).toBe(mode === 'services' ? started.worker?.process.pid : started.web.process.pid);

      const broken = await post(`${url}/register-broken`, { email: 'bob@example.com', name: 'Bob' });
      expect(broken.status).toBe(500);

      const published = await post(`${url}/publish`, { deviceToken: 'device-1', slug: 'spring-sale' });
      expect(published.status).toBe(200);
      const pushed = await eventually(
        () => started.deliveries('push').find((m) => m.to === 'device-1'),
        'the push message',
        output,
      );
      expect(pushed.text).toBe(`Our website has been updated. Please visit ${url}/news/spring-sale`);

      const report = await post(`${url}/reports`, { month: '2026-01' });
      expect(report.status).toBe(202);
      expect(report.headers.get('retry-after')).toBe('1');
      const location = report.headers.get('location') ?? '';
      expect(location).toBe(`${url}/tasks/${((await report.json()) as { task: string }).task}`);
      const states: string[] = [];
      const done = await eventually(
        async () => {
          const status = (await (await fetch(location)).json()) as { state: string; result?: unknown };
          if (states.at(-1) !== status.state) states.push(status.state);
          return status.state === 'succeeded' ? status : undefined;
        },
        'the report to succeed',
        output,
      );
      expect(states.length, `states seen: ${states.join(' → ')}`).toBeGreaterThan(1);
      expect(states.slice(0, -1).every((state) => state === 'queued' || state === 'active')).toBe(true);
      expect(done.result).toEqual({ month: '2026-01', users: 1 });

      // The dashboard the example mounts, at the URL the web process printed, lists the report's task.
      expect(output()).toContain(`[web] dashboard: ${url}/admin/taskq/`);
      const dashboard = await fetch(`${url}/admin/taskq/tasks?name=reports.buildMonthlyReport`);
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toContain(location.slice(location.lastIndexOf('/') + 1));
      // The overview listens to worker heartbeats from then on: the process still exits 0 on SIGTERM below.
      expect((await fetch(`${url}/admin/taskq/`)).status).toBe(200);

      // The typo's user was never created and its mail never went out (the mail of ada arrived, so the worker was
      // running).
      expect((await fetch(`${url}/users/${user.id + 1}`)).status).toBe(404);
      expect(started.deliveries('mail').map((m) => m.to)).toEqual(['ada@example.com']);
      console.log(
        `[${mode}] report states ${states.join(' → ')}; mails ${started.deliveries('mail').length}; pushes ${started.deliveries('push').length}`,
      );

      running.splice(running.indexOf(started), 1);
      expect(await started.stop(), output()).toEqual(mode === 'services' ? [0, 0] : [0]);
    });
  });
}
