import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, deleteBrokerPrefix, eventually, RABBIT_URL, type RunningProcess, run } from './support.js';

interface TaskStatus {
  readonly state: string;
  readonly result?: unknown;
}

function mails(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function register(url: string, name: string, email: string, query = ''): Promise<Response> {
  return fetch(`${url}/users${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, email }) });
}

async function succeeded(location: string): Promise<TaskStatus> {
  return eventually(async () => {
    const status = (await (await fetch(location)).json()) as TaskStatus;
    return status.state === 'succeeded' ? status : undefined;
  }, `${location} to succeed`);
}

/**
 * The register-user story, the same in both set-ups: a registration answers
 * 202 with the task's status URL and the welcome task runs once, in the
 * worker, on the committed row; a registration that fails after its submit
 * leaves neither a row nor a mail.
 */
async function registerUserStory(url: string, mailLog: string): Promise<void> {
  const accepted = await register(url, 'Ada', 'ada@example.com');
  expect(accepted.status).toBe(202);
  const location = accepted.headers.get('location') as string;
  expect(location).toMatch(new RegExp(`^${url}/tasks/[0-9a-f-]{36}$`));
  expect(((await (await fetch(location)).json()) as TaskStatus).state).not.toBe('unknown');
  const status = await succeeded(location);
  expect(status.result).toBe(`${url}/users/1`);
  const ada = (await (await fetch(`${url}/users/1`)).json()) as { email: string; welcomedAt: string | null };
  expect(ada.email).toBe('ada@example.com');
  expect(ada.welcomedAt).not.toBeNull();

  const failed = await register(url, 'Bob', 'bob@example.com', '?fail=after-submit');
  expect(failed.status).toBe(500);
  expect(await (await fetch(`${url}/users?email=bob@example.com`)).json()).toEqual([]);
  // One more registration: once its mail went out, Bob's would have gone before it had it been published.
  const cy = await succeeded((await register(url, 'Cy', 'cy@example.com')).headers.get('location') as string);
  // (SQLite may give Cy the id Bob's rolled-back row had; PostgreSQL's sequence does not.)
  expect(mails(mailLog)).toEqual([`mail to ada@example.com: Welcome, Ada! Your profile: ${url}/users/1`, `mail to cy@example.com: Welcome, Cy! Your profile: ${cy.result}`]);
}

describe('examples/nest: the register-user story', () => {
  let cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup = [];
  });

  beforeAll(() => {
    const dist = fileURLToPath(new URL('../dist/start.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" first`);
  });

  function mailLog(): string {
    const file = join(tmpdir(), `taskq-nest-example-${randomUUID()}.log`);
    cleanup.push(() => rmSync(file, { force: true }));
    return file;
  }

  function started(process: RunningProcess): RunningProcess {
    cleanup.push(() => process.stop());
    return process;
  }

  it('runs with no services: one process, memory transport, SQLite (npm start)', async () => {
    const log = mailLog();
    const app = started(run('start.js', { TASKQ_URL: '', DATABASE_URL: '', PORT: '0', MAIL_LOG: log }));
    const [, url] = await app.waitFor(/listening on (http:\/\/\S+)/, 'the app to listen');
    expect(app.output()).toContain('transport: memory (in-process, NOT durable); database: SQLite :memory:');
    await registerUserStory(url, log);
    const exit = await app.stop();
    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
  });

  it('runs on RabbitMQ and PostgreSQL: web and worker in two processes (node dist/web.js, node dist/worker.js)', async () => {
    const log = mailLog();
    const database = await createDatabase();
    cleanup.push(() => database.drop());
    const prefix = `tqnest-example-${randomUUID().slice(0, 8)}`;
    cleanup.push(() => deleteBrokerPrefix(prefix));
    const env = { TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: prefix, DATABASE_URL: database.url, MAIL_LOG: log };
    // The web app creates the tables (synchronize), so it starts first.
    const web = started(run('web.js', { ...env, PORT: '0' }));
    const [, url] = await web.waitFor(/listening on (http:\/\/\S+)/, 'the web app to listen');
    expect(web.output()).toMatch(/transport: RabbitMQ at 127\.0\.0\.1:5672; database: PostgreSQL at 127\.0\.0\.1:5432/);
    const worker = started(run('worker.js', env));
    await worker.waitFor(/worker running/, 'the worker to start');
    await registerUserStory(url, log);
    // The mails went out from the worker process's Mailer, not the web app's.
    expect(worker.output()).toContain('[Mailer] mail to ada@example.com');
    expect(web.output()).not.toContain('[Mailer]');
  });
});
