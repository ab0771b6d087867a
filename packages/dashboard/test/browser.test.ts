// The dashboard in a real browser (Debian's Chromium, driven by playwright-core), on an Express app with the real
// RabbitMQ and the SQL result store on PostgreSQL, and a worker in this process. One browser for the whole file.
// Screenshots of each page at 1280×800 go to packages/dashboard/test-output/ (not committed).
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  createQueue,
  createScheduler,
  createWorker,
  currentTask,
  type FiredEvent,
  schedule,
  silentLogger,
  type TaskQueue,
  TaskRegistry,
  type Worker,
} from '@taskq/core';
import { sqlResultStore, taskqEntities } from '@taskq/typeorm';
import express from 'express';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchema, dropSchema, PG_URL } from '../../../test-support/postgres.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { dashboard } from '../src/index.js';
import { urlOf } from './support/client.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../test-output/', import.meta.url));

const flaky = { fail: true };

async function echo(text: string): Promise<string> {
  return text;
}
/** Runs until cancelled, reporting progress. */
async function longReport(steps: number): Promise<number> {
  const { signal } = currentTask();
  for (let step = 1; step <= steps && !signal.aborted; step++) {
    currentTask().progress(Math.round((step / steps) * 100));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  signal.throwIfAborted();
  return steps;
}
async function chargeCard(order: string): Promise<string> {
  if (flaky.fail) throw new Error(`card declined for ${order}`);
  return `charged ${order}`;
}
const declines = new Map<string, number>();
/** Declined twice for an order, charged on the third attempt. */
async function chargeTwiceDeclined(order: string): Promise<string> {
  const call = (declines.get(order) ?? 0) + 1;
  declines.set(order, call);
  if (call < 3) throw new Error(`declined: try ${call} for ${order}`);
  return `charged ${order} on try ${call}`;
}
const registry = new TaskRegistry()
  .add('demo.echo', echo)
  .add('reports.longReport', longReport)
  .add('billing.chargeCard', chargeCard)
  .add('billing.chargeTwiceDeclined', chargeTwiceDeclined);

const broker = testBroker('tqdash');
let schema: string;
let dataSource: DataSource;
let queue: TaskQueue;
let worker: Worker;
let server: Server;
let origin: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const closers: Array<() => Promise<unknown>> = [];
const actions: unknown[] = [];
const queueName = broker.queue('web');
const everyTwoSeconds = schedule('dash-every-2s', { every: '2s', queue: queueName }, echo, 'scheduled');

beforeAll(async () => {
  mkdirSync(OUT, { recursive: true });
  schema = await createSchema('dash');
  dataSource = new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema,
    entities: taskqEntities,
    synchronize: true,
    logging: false,
  });
  await dataSource.initialize();
  const store = sqlResultStore(dataSource, { keepArgs: true });
  closers.push(() => store.close());
  queue = createQueue({ registry, transport: broker.amqp(), store, defaults: { queue: queueName } });
  closers.push(() => queue.close());
  worker = createWorker({
    registry,
    transport: broker.amqp(),
    store,
    queues: [queueName],
    concurrency: 4,
    logger: silentLogger,
  });
  await worker.start();
  closers.push(() => worker.stop());
  const logger = { ...silentLogger, info: (message: string, fields?: unknown) => actions.push([message, fields]) };
  const app = express();
  const full = dashboard({
    queue,
    logger,
    schedules: [everyTwoSeconds],
    authorize: (request) => (request.headers['x-user'] === 'ada' ? { user: 'ada' } : null),
  });
  const readOnly = dashboard({
    queue,
    logger,
    readOnly: true,
    authorize: (request) => request.headers['x-user'] === 'ada',
  });
  closers.push(
    () => full.close(),
    () => readOnly.close(),
  );
  app.use('/admin/taskq', full);
  app.use('/readonly/taskq', readOnly);
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  closers.push(() => new Promise((resolve) => server.close(resolve)));
  origin = urlOf(server);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  closers.push(() => browser.close());
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, extraHTTPHeaders: { 'x-user': 'ada' } });
  page = await context.newPage();
  // Any request to another origin would be a bug: the dashboard works offline.
  await context.route('**/*', (route) =>
    route.request().url().startsWith(origin) ? route.continue() : route.abort('blockedbyclient'),
  );
}, 60_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await dataSource?.destroy();
  if (schema) await dropSchema(schema);
  await broker.cleanup();
});

const admin = (path: string): string => `${origin}/admin/taskq${path}`;

/** Requests the page made to other origins (none expected) and errors the page threw. */
function watchPage(p: Page): { foreign: string[]; errors: string[] } {
  const seen = { foreign: [] as string[], errors: [] as string[] };
  p.on('request', (request) => {
    if (!request.url().startsWith(origin)) seen.foreign.push(request.url());
  });
  p.on('pageerror', (error) => seen.errors.push(error.message));
  p.on('console', (message) => {
    if (message.type() === 'error') seen.errors.push(message.text());
  });
  return seen;
}

async function waitForState(id: string, state: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await queue.status(id))?.state !== state) {
    if (Date.now() > deadline) throw new Error(`task ${id} never reached ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the dashboard in Chromium', () => {
  it('shows a task move from queued to succeeded live, without a reload, and renders its argument as text', async () => {
    const seen = watchPage(page);
    const xss = '<script>alert(1)</script>';
    let dialogs = 0;
    const onDialog = (dialog: import('playwright-core').Dialog): void => {
      dialogs++;
      void dialog.dismiss();
    };
    page.on('dialog', onDialog);
    const handle = await queue.with({ delay: '2s' }).submit(echo, xss);
    await page.goto(admin(`/tasks/${handle.id}`));
    await expect.poll(() => page.textContent('.task-head .state')).toBe('queued');
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 42;
    });
    await page.locator('.task-head .state-succeeded').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    expect(await page.locator('.live-state').textContent()).toBe('Live');
    // The argument and the result show the markup as text; no script ran from them.
    const values = await page.locator('pre.value').allTextContents();
    expect(values.join('\n')).toContain(xss);
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { document: { scripts: { length: number } } }).document.scripts.length,
      ),
    ).toBe(1);
    expect(dialogs).toBe(0);
    page.off('dialog', onDialog);
    await page.screenshot({ path: `${OUT}task.png` });
    expect(seen).toEqual({ foreign: [], errors: [] });
  });

  it('shows each attempt of a retried task in the timeline, with its error and the stack on demand', async () => {
    const seen = watchPage(page);
    const handle = await queue
      .with({ attempts: 3, backoff: { type: 'fixed', delay: 200 } })
      .submit(chargeTwiceDeclined, 'order-9');
    await page.goto(admin(`/tasks/${handle.id}`));
    await page.locator('.task-head .state-succeeded').waitFor({ timeout: 20_000 });
    const attempts = page.locator('.timeline li.attempt');
    await expect.poll(() => attempts.count()).toBe(3);
    const outcomes: Array<string | null> = [];
    for (let i = 0; i < 3; i++) outcomes.push(await attempts.nth(i).getAttribute('data-outcome'));
    expect(outcomes).toEqual(['failed', 'failed', 'succeeded']);
    expect(await attempts.nth(0).locator('.error-message').textContent()).toBe('Error: declined: try 1 for order-9');
    expect(await attempts.nth(1).locator('.error-message').textContent()).toBe('Error: declined: try 2 for order-9');
    expect(await attempts.nth(2).locator('.error-message').count()).toBe(0);
    expect(await attempts.nth(2).textContent()).toMatch(/Attempt 3 succeeded after \d+ ms on \S+ pid \d+/);
    const stack = attempts.nth(0).locator('pre.stack');
    expect(await stack.isVisible()).toBe(false);
    await attempts.nth(0).locator('summary').click();
    expect(await stack.isVisible()).toBe(true);
    expect(await stack.textContent()).toContain('declined: try 1 for order-9');
    await page.screenshot({ path: `${OUT}task-retried.png` });
    expect(seen).toEqual({ foreign: [], errors: [] });
  });

  it('lists the schedules: spec, next runs, and the task of the latest tick with its state', async () => {
    const seen = watchPage(page);
    const scheduler = createScheduler({ queue, schedules: [everyTwoSeconds] });
    const fired: FiredEvent[] = [];
    scheduler.on('fired', (event) => fired.push(event));
    await scheduler.start();
    try {
      await expect.poll(() => fired.length, { timeout: 15_000 }).toBeGreaterThan(0);
      await page.goto(admin('/'));
      await page.getByRole('link', { name: 'Schedules' }).click();
      await page.waitForURL(/\/schedules$/);
      const row = page.locator('tr[data-schedule="dash-every-2s"]');
      expect(await row.locator('th').textContent()).toBe('dash-every-2s');
      expect(await row.locator('code').textContent()).toBe('every 2s');
      expect(await row.textContent()).toContain('demo.echo');
      const next = row.locator('.next-runs time');
      expect(await next.count()).toBe(3);
      const firstNext = Date.parse((await next.first().getAttribute('datetime')) ?? '');
      expect(firstNext % 2_000).toBe(0);
      expect(firstNext).toBeGreaterThan(Date.now() - 4_000);
      // The latest tick's task ran in the worker; the page follows the ticks live.
      await row.locator('.last-tick .state-succeeded').waitFor({ timeout: 15_000 });
      await page.screenshot({ path: `${OUT}schedules.png` });
      await row.locator('.last-tick a').click();
      await page.locator('.task-head .state-succeeded').waitFor();
      expect(await page.locator('h1').textContent()).toBe('Task demo.echo');
      expect(seen).toEqual({ foreign: [], errors: [] });
    } finally {
      await scheduler.stop();
    }
  });

  it('opens the overview, tasks, workers and dead-letter pages', async () => {
    const seen = watchPage(page);
    await page.goto(admin('/'));
    const card = page.locator(`section.queue:has(h2:text-is("${queueName}"))`);
    await card.waitFor();
    expect(await card.locator('dt').allTextContents()).toEqual(['Depth', 'Consumers', 'Running', 'Done/h', 'Failed/h']);
    expect(await card.locator('svg[role="img"]').getAttribute('aria-label')).toMatch(/Last hour in .*: \d+ completed/);
    await page.screenshot({ path: `${OUT}overview.png` });
    await page.goto(admin('/tasks'));
    expect(await page.locator('tbody tr').count()).toBeGreaterThan(0);
    await page.getByLabel('Task name').fill('demo.echo');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/name=demo\.echo/);
    expect(new Set(await page.locator('tbody td:nth-child(2)').allTextContents())).toEqual(new Set(['demo.echo']));
    await page.screenshot({ path: `${OUT}tasks.png` });
    await page.goto(admin('/workers'));
    await page.locator('tbody tr').first().waitFor();
    expect(await page.locator('tbody').textContent()).toContain(queueName);
    await page.screenshot({ path: `${OUT}workers.png` });
    expect(seen).toEqual({ foreign: [], errors: [] });
  });

  it('is keyboard navigable, fits a phone, and follows a dark color scheme', async () => {
    await page.goto(admin('/'));
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { textContent: string } } }).document.activeElement
            .textContent,
      ),
    ).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id,
      ),
    ).toBe('main');
    // Every form control has a label, every button a name.
    await page.goto(admin('/tasks'));
    for (const label of ['Task name', 'Queue', 'Task id']) await page.getByLabel(label).waitFor();
    const phone = await context.newPage();
    try {
      await phone.setViewportSize({ width: 390, height: 844 });
      await phone.emulateMedia({ colorScheme: 'dark' });
      for (const path of ['/', '/tasks', '/dead', '/workers']) {
        await phone.goto(admin(path));
        const width = await phone.evaluate(
          () =>
            (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
              .documentElement.scrollWidth,
        );
        expect(width, path).toBeLessThanOrEqual(390);
      }
      await phone.goto(admin('/'));
      const background = await phone.evaluate(
        () =>
          (
            globalThis as unknown as {
              getComputedStyle(e: unknown): { backgroundColor: string };
              document: { body: unknown };
            }
          ).getComputedStyle((globalThis as unknown as { document: { body: unknown } }).document.body).backgroundColor,
      );
      expect(background).toBe('rgb(18, 21, 28)');
      await phone.screenshot({ path: `${OUT}overview-phone-dark.png` });
    } finally {
      await phone.close();
    }
  });

  it('pauses and resumes a queue from the overview', async () => {
    await page.goto(admin('/'));
    const card = page.locator(`section.queue:has(h2:text-is("${queueName}"))`);
    await card.getByRole('button', { name: 'Pause' }).click();
    await page.locator('.notice').waitFor();
    expect(await queue.isPaused(queueName)).toBe(true);
    await card.locator('.badge.paused').waitFor();
    await card.getByRole('button', { name: 'Resume' }).click();
    await page.locator('.notice:has-text("resumed")').waitFor();
    expect(await queue.isPaused(queueName)).toBe(false);
    expect(await card.locator('.badge.paused').count()).toBe(0);
  });

  it('cancels a running task', async () => {
    const handle = await queue.submit(longReport, 600);
    await waitForState(handle.id, 'active');
    await page.goto(admin(`/tasks/${handle.id}`));
    await page.locator('.task-head .state-active').waitFor();
    await page.locator('progress').first().waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('.task-head .state-cancelled').waitFor({ timeout: 10_000 });
    expect((await queue.status(handle.id))?.state).toBe('cancelled');
  });

  it('retries a dead letter and shows the task succeed', async () => {
    flaky.fail = true;
    const handle = await queue.with({ attempts: 1 }).submit(chargeCard, 'order-7');
    await waitForState(handle.id, 'dead');
    await page.goto(admin('/dead'));
    const row = page.locator(`tr:has(a:text-is("${handle.id}"))`);
    await row.waitFor();
    expect(await row.textContent()).toContain('card declined for order-7');
    await page.screenshot({ path: `${OUT}dead.png` });
    flaky.fail = false;
    await row.getByRole('button', { name: 'Retry' }).click();
    await page.locator('.notice:has-text("Sent 1 dead letter back")').waitFor();
    await page.goto(admin(`/tasks/${handle.id}`));
    await page.locator('.task-head .state-succeeded').waitFor({ timeout: 15_000 });
    expect(await page.locator('pre.value').first().textContent()).toContain('order-7');
    expect(actions).toContainEqual([
      `taskq dashboard: retry ${handle.id}`,
      expect.objectContaining({ by: { user: 'ada' }, result: { sent: 1 } }),
    ]);
  });

  it('answers 403 without authorization, and refuses posts in read-only mode and without the CSRF token', async () => {
    const stranger = await browser.newContext();
    try {
      const response = await (await stranger.newPage()).goto(admin('/'));
      expect(response?.status()).toBe(403);
    } finally {
      await stranger.close();
    }
    await page.goto(`${origin}/readonly/taskq/`);
    expect(await page.locator('form[method="post"]').count()).toBe(0);
    const readOnlyPost = await page.evaluate(async () => {
      const response = await fetch('/readonly/taskq/actions/pause', {
        method: 'POST',
        body: new URLSearchParams({ queue: 'x' }),
      });
      return [response.status, await response.text()] as const;
    });
    expect(readOnlyPost[0]).toBe(403);
    expect(readOnlyPost[1]).toContain('TASKQ_DASHBOARD_READ_ONLY');
    await page.goto(admin('/'));
    const noToken = await page.evaluate(async (name) => {
      const response = await fetch('/admin/taskq/actions/pause', {
        method: 'POST',
        body: new URLSearchParams({ queue: name }),
      });
      return [response.status, await response.text()] as const;
    }, queueName);
    expect(noToken[0]).toBe(403);
    expect(noToken[1]).toContain('TASKQ_DASHBOARD_CSRF');
    expect(await queue.isPaused(queueName)).toBe(false);
  });
});
