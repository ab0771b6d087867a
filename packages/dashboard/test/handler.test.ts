import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import {
  createQueue,
  createScheduler,
  createWorker,
  memory,
  memoryResultStore,
  schedule,
  silentLogger,
  type TaskQueue,
  TaskRegistry,
  tickId,
} from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup } from '../../../test-support/cleanup.js';
import { type DashboardOptions, dashboard } from '../src/index.js';
import { Client, urlOf } from './support/client.js';

async function greet(name: string): Promise<string> {
  return `hello ${name}`;
}
async function fail(): Promise<void> {
  throw new Error('it broke <b>badly</b>');
}
const flakyCalls = new Map<string, number>();
/** Fails its first two attempts (with markup in the message), succeeds on the third. */
async function flaky(key: string): Promise<string> {
  const call = (flakyCalls.get(key) ?? 0) + 1;
  flakyCalls.set(key, call);
  if (call < 3) throw new Error(`<i>try ${call}</i> failed`);
  return 'third time lucky';
}
const registry = new TaskRegistry().add('demo.greet', greet).add('demo.fail', fail).add('demo.flaky', flaky);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function memoryQueue(): TaskQueue {
  const transport = memory();
  const queue = createQueue({ registry, transport, store: memoryResultStore({ keepArgs: true }) });
  cleanup.add(() => queue.close());
  return queue;
}

async function listen(
  handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void,
): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

async function serveDashboard(options: Partial<DashboardOptions> & { queue: TaskQueue }): Promise<Client> {
  const logs: unknown[] = [];
  const handler = dashboard({ logger: { ...silentLogger, info: (m, f) => logs.push([m, f]) }, ...options });
  cleanup.add(() => handler.close());
  const server = await listen(handler);
  return Object.assign(new Client(urlOf(server)), { logs });
}

describe('dashboard options', () => {
  it('are checked at creation, naming the option', () => {
    const queue = memoryQueue();
    const bad: Array<[unknown, string]> = [
      [undefined, 'options'],
      [{}, 'queue'],
      [{ queue, authorize: 'yes' }, 'authorize'],
      [{ queue, readOnly: 'no' }, 'readOnly'],
      [{ queue, basePath: 'admin' }, 'basePath'],
      [{ queue, basePath: '/a?b' }, 'basePath'],
      [{ queue, redact: {} }, 'redact'],
      [{ queue, queues: [1] }, 'queues'],
      [{ queue, refreshInterval: 10 }, 'refreshInterval'],
      [{ queue, autorize: () => true }, 'autorize'],
      [{ queue, schedules: 'nightly' }, 'schedules'],
      [{ queue, schedules: [{ id: 'x' }] }, 'schedules[0]'],
    ];
    for (const [options, option] of bad) {
      let error: unknown;
      try {
        dashboard(options as DashboardOptions);
      } catch (caught) {
        error = caught;
      }
      expect(error, option).toMatchObject({ code: 'TASKQ_INVALID_OPTION', option });
    }
  });
});

describe('who may see the dashboard', () => {
  it('answers 403 to everyone, assets included, when no authorize is given and it is not read-only', async () => {
    const client = await serveDashboard({ queue: memoryQueue() });
    for (const path of ['/', '/tasks', '/assets/dashboard.js', '/live?view=/']) {
      const page = await client.get(path);
      expect(page.status, path).toBe(403);
      expect(page.text).toContain('TASKQ_DASHBOARD_FORBIDDEN');
    }
  });

  it('lets read-only requests from loopback in without authorize, but not ones a proxy forwarded', async () => {
    const client = await serveDashboard({ queue: memoryQueue(), readOnly: true });
    expect((await client.get('/')).status).toBe(200);
    const forwarded = await fetch(`${client.origin}/`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(forwarded.status).toBe(403);
  });

  it('asks authorize for every request and refuses what it refuses', async () => {
    const seen: string[] = [];
    const client = await serveDashboard({
      queue: memoryQueue(),
      authorize: (request) => {
        seen.push(request.url ?? '');
        return request.headers['x-user'] === 'ada' ? { user: 'ada' } : null;
      },
    });
    expect((await client.get('/')).status).toBe(403);
    const allowed = await fetch(`${client.origin}/workers`, { headers: { 'x-user': 'ada' } });
    expect(allowed.status).toBe(200);
    expect(seen).toEqual(['/', '/workers']);
  });
});

describe('pages', () => {
  it('send a CSP without inline scripts, and render every value from a task as text', async () => {
    const queue = memoryQueue();
    const handle = await queue.submit(greet, '<script>alert(1)</script>');
    const client = await serveDashboard({ queue, authorize: () => 'ada' });
    const page = await client.get(`/tasks/${handle.id}`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // The only scripts are the dashboard's own file; nothing names another host.
    expect([...page.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual([
      expect.stringMatching(/^<script src="\/assets\/dashboard\.js\?v=[\w-]+" defer>$/),
    ]);
    expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('pass arguments and results through the redaction hook', async () => {
    const queue = memoryQueue();
    const worker = createWorker({ registry, transport: queue.transport, store: queue.store, logger: silentLogger });
    await worker.start();
    cleanup.add(() => worker.stop());
    const handle = await queue.submit(greet, 'secret-name');
    await handle.result();
    const client = await serveDashboard({
      queue,
      authorize: () => 'ada',
      redact: (value, { part }) => (part === 'args' ? ['[redacted]'] : `${String(value).length} characters`),
    });
    const page = await client.get(`/tasks/${handle.id}`);
    expect(page.text).not.toContain('secret-name');
    expect(page.text).toContain('[redacted]');
    expect(page.text).toContain('&quot;17 characters&quot;');
  });

  it('show each attempt of a retried task in the timeline: outcome, duration, worker, and the error with its stack', async () => {
    const queue = memoryQueue();
    const worker = createWorker({ registry, transport: queue.transport, store: queue.store, logger: silentLogger });
    await worker.start();
    cleanup.add(() => worker.stop());
    const handle = await queue.with({ attempts: 3, backoff: { type: 'fixed', delay: 10 } }).submit(flaky, 'handler');
    expect(await handle.result()).toBe('third time lucky');
    const client = await serveDashboard({ queue, authorize: () => 'ada' });
    const page = await client.get(`/tasks/${handle.id}`);
    const steps = [...page.text.matchAll(/<li class="attempt (\w+)" data-outcome="(\w+)">([\s\S]*?)<\/li>/g)];
    expect(steps.map((m) => [m[1], m[2]])).toEqual([
      ['bad', 'failed'],
      ['bad', 'failed'],
      ['ok', 'succeeded'],
    ]);
    expect(steps[0][3]).toMatch(/Attempt 1<\/strong> failed after \d+ ms, retried on /);
    expect(steps[0][3]).toContain('Error: &lt;i&gt;try 1&lt;/i&gt; failed');
    expect(steps[0][3]).toMatch(/<details><summary>Stack<\/summary><pre class="stack">Error: &lt;i&gt;try 1/);
    expect(steps[1][3]).toContain('&lt;i&gt;try 2&lt;/i&gt; failed');
    expect(steps[2][3]).toMatch(/Attempt 3<\/strong> succeeded after \d+ ms on /);
    expect(steps[2][3]).not.toContain('error-message');
    expect(steps[2][3]).toContain(` pid ${process.pid}`);
    expect(page.text).not.toContain('<i>try');
  });

  it('list the schedules when given: spec, overlap, next runs, and the task of the latest tick; no page without them', async () => {
    const queue = memoryQueue();
    const yearly = schedule('yearly-report', { cron: '0 0 1 1 *', tz: 'Europe/Berlin' }, greet, 'year');
    const quarter = schedule('quarter-sync', { every: '15m', overlap: false, queue: 'sync' }, greet, 'sync');
    const last = yearly.last() as Date;
    const fired = await queue.with({ id: tickId(yearly.id, last.getTime()) }).submit(greet, 'year');
    const client = await serveDashboard({ queue, authorize: () => 'ada', schedules: [yearly, quarter] });
    const page = await client.get('/schedules');
    expect(page.status).toBe(200);
    expect(page.text).toContain('href="/schedules" aria-current="page">Schedules</a>');
    const rows = Object.fromEntries(
      [...page.text.matchAll(/<tr data-schedule="([^"]+)">([\s\S]*?)<\/tr>/g)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(rows)).toEqual(['yearly-report', 'quarter-sync']);
    expect(rows['yearly-report']).toContain('<code>0 0 1 1 * (Europe/Berlin)</code>');
    expect(rows['yearly-report']).toContain('demo.greet');
    expect(rows['yearly-report']).toContain('<td>allowed</td>');
    const nextRuns = [...rows['yearly-report'].matchAll(/<li><time datetime="([^"]+)"/g)].map((m) => m[1]);
    expect(nextRuns).toEqual(yearly.next(new Date(), 3).map((d) => d.toISOString()));
    expect(rows['yearly-report']).toContain(`datetime="${last.toISOString()}"`);
    expect(rows['yearly-report']).toContain(`<span class="state state-queued">queued</span>`);
    expect(rows['yearly-report']).toContain(`href="/tasks/${fired.id}"`);
    expect(rows['quarter-sync']).toContain('<code>every 15m</code>');
    expect(rows['quarter-sync']).toContain('queue sync');
    expect(rows['quarter-sync']).toContain('skipped while the last runs');
    expect(rows['quarter-sync']).toContain('not in the store');
    // A Scheduler works as well as its list; without schedules there is neither a link nor a page.
    const scheduler = createScheduler({ queue, schedules: [yearly] });
    const viaScheduler = await serveDashboard({ queue, authorize: () => 'ada', schedules: scheduler });
    expect((await viaScheduler.get('/schedules')).text).toContain('<tr data-schedule="yearly-report">');
    const plain = await serveDashboard({ queue, authorize: () => 'ada' });
    expect((await plain.get('/')).text).not.toContain('/schedules');
    expect((await plain.get('/schedules')).status).toBe(404);
  });

  it('serve assets small enough: all of them gzipped under 150 KB', async () => {
    const client = await serveDashboard({ queue: memoryQueue(), authorize: () => 'ada' });
    const page = await client.get('/');
    const assets = [...page.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(new Set(assets.map((a) => a.split('?')[0]))).toEqual(
      new Set(['/assets/dashboard.css', '/assets/dashboard.js', '/assets/icon.svg']),
    );
    let gzipped = 0;
    for (const asset of new Set(assets)) {
      const response = await fetch(`${client.origin}${asset}`, { headers: { cookie: client.cookie } });
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toContain('immutable');
      gzipped += gzipSync(Buffer.from(await response.arrayBuffer()), { level: 9 }).length;
    }
    console.log(`dashboard assets: ${gzipped} bytes gzipped`);
    expect(gzipped).toBeLessThan(150 * 1024);
  });
});

describe('live updates', () => {
  it('stream a page’s live part as server-sent events, again when the task changes', async () => {
    const queue = memoryQueue();
    const handle = await queue.with({ queue: 'later' }).submit(greet, 'eve');
    const client = await serveDashboard({ queue, authorize: () => 'ada' });
    const controller = new AbortController();
    cleanup.add(() => controller.abort());
    const response = await fetch(`${client.origin}/live?view=${encodeURIComponent(`/tasks/${handle.id}`)}`, {
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const until = async (pattern: RegExp): Promise<void> => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until(/event: fragment\n(data: .*\n)+\n/);
    expect(text).toContain('state-queued');
    await queue.cancel(handle.id);
    await until(/state-cancelled/);
    expect(text.match(/event: fragment/g)?.length).toBe(2);
  });
});

describe('actions', () => {
  it('need the CSRF token of the cookie, refuse another site, and log who did them', async () => {
    const queue = memoryQueue();
    const client = await serveDashboard({ queue, authorize: () => ({ user: 'ada' }) });
    await client.get('/');
    expect(client.cookie).toMatch(/^taskq_dashboard_csrf=/);
    const name = 'mail';
    const noToken = await client.post('/actions/pause', { queue: name }, { csrf: null });
    expect(noToken.status).toBe(403);
    expect(noToken.text).toContain('TASKQ_DASHBOARD_CSRF');
    const wrong = await client.post('/actions/pause', { queue: name }, { csrf: 'A'.repeat(43) });
    expect(wrong.status).toBe(403);
    const noCookie = await client.post('/actions/pause', { queue: name }, { cookie: null });
    expect(noCookie.status).toBe(403);
    const crossSite = await client.post(
      '/actions/pause',
      { queue: name },
      { headers: { 'sec-fetch-site': 'cross-site' } },
    );
    expect(crossSite.status).toBe(403);
    expect(await queue.isPaused(name)).toBe(false);

    const ok = await client.post('/actions/pause', { queue: name, back: '/' });
    expect(ok.status).toBe(303);
    expect(ok.location).toBe('/?done=paused');
    expect(await queue.isPaused(name)).toBe(true);
    const resumed = await client.post('/actions/resume', { queue: name, back: '//evil.example/' });
    expect(resumed.location).toBe('/?done=resumed');
    expect(await queue.isPaused(name)).toBe(false);
    expect((client as unknown as { logs: unknown[] }).logs).toEqual([
      ['taskq dashboard: pause mail', expect.objectContaining({ action: 'pause', by: { user: 'ada' } })],
      ['taskq dashboard: resume mail', expect.objectContaining({ action: 'resume', by: { user: 'ada' } })],
    ]);
  });

  it('are refused in read-only mode, and not rendered', async () => {
    const queue = memoryQueue();
    const client = await serveDashboard({ queue, readOnly: true, authorize: () => 'ada' });
    const page = await client.get('/');
    expect(page.text).not.toContain('/actions/');
    expect(page.text).toContain('Read-only');
    const refused = await client.post('/actions/pause', { queue: 'default' }, { csrf: 'x'.repeat(43) });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('TASKQ_DASHBOARD_READ_ONLY');
    expect(await queue.isPaused('default')).toBe(false);
  });

  it('cancel a queued task and retry a dead one through the queue', async () => {
    const queue = memoryQueue();
    const queued = await queue.with({ queue: 'later' }).submit(greet, 'bob');
    const client = await serveDashboard({ queue, authorize: () => 'ada' });
    await client.get(`/tasks/${queued.id}`);
    const cancel = await client.post('/actions/cancel', { id: queued.id, back: `/tasks/${queued.id}` });
    expect(cancel.location).toBe(`/tasks/${queued.id}?done=cancelled`);
    expect((await queue.status(queued.id))?.state).toBe('cancelled');

    const worker = createWorker({ registry, transport: queue.transport, store: queue.store, logger: silentLogger });
    await worker.start();
    cleanup.add(() => worker.stop());
    const failing = await queue.with({ attempts: 1 }).submit(fail);
    await expect(failing.result()).rejects.toThrow();
    const dead = await client.get('/dead');
    expect(dead.text).toContain(failing.id);
    expect(dead.text).toContain('it broke &lt;b&gt;badly&lt;/b&gt;');
    const purge = await client.post('/actions/purge', { back: '/dead' });
    expect(purge.location).toBe('/dead?done=purged&n=1');
    expect(await queue.transport.dead.count()).toBe(0);
  });
});
