import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// amqplib comes with @taskq/core (hoisted in the workspace); only used to delete the test's own queue.
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../dist/demo.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RABBIT_URL = process.env.TASKQ_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built demo as `npm run demo` does (from the repository root) and collects its output. */
function runDemo(env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The demo limits itself to 15 s; this only guards against a demo that ignores its own limit.
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, 'gm'))?.length ?? 0;
}

/** What both modes must show: every task ran its own body, the retry, the delay, the context and the refusal. */
function expectTheWholeStory(run: Run): void {
  const out = run.stdout;
  expect(run.code, `demo failed:\n${out}\n${run.stderr}`).toBe(0);
  // Transparency: the task runs as a plain call.
  expect(out).toMatch(/^web +direct call, no queue: sent "Welcome, Ada!" to ada@example\.com$/m);
  // Per-process hooks.
  expect(out).toMatch(/^worker +onStartup: mailer connected/m);
  expect(out).toMatch(/^worker +onShutdown: mailer closed after 3 mail\(s\)$/m);
  // Two functions named sendWelcomeMail, two tasks, two bodies.
  expect(
    count(
      out,
      /^worker +completed mail\.sendWelcomeMail …\w{8} attempt 1 in \d+ ms: sent "Welcome, Ada!" to ada@example\.com$/,
    ),
  ).toBe(1);
  expect(
    count(
      out,
      /^worker +completed billing\.sendWelcomeMail …\w{8} attempt 1 in \d+ ms: sent "Your pro plan is active" to ada@example\.com$/,
    ),
  ).toBe(1);
  // Context across the hop: the request id from the submit side's AsyncLocalStorage reached the task.
  expect(out).toMatch(
    /^log +mail\.sendWelcomeMail attempt 1 \[request req-7f3a\]: welcome mail for ada@example\.com, signed up 2026-01-15$/m,
  );
  // Retries: attempt 1 fails, attempt 2 succeeds.
  expect(out).toMatch(
    /^worker +failed +reports\.renderMonthlyReport …\w{8} attempt 1: reporting database timed out .*; retrying in 200 ms$/m,
  );
  expect(
    count(out, /^worker +completed reports\.renderMonthlyReport …\w{8} attempt 2 in \d+ ms: report-2026-01\.pdf$/),
  ).toBe(1);
  // Delay: the reminder starts about a second after it was submitted.
  const reminder = /^worker +active +reminders\.sendReminder …\w{8} attempt 1 \(submitted (\d+) ms ago\)$/m.exec(out);
  expect(reminder, out).not.toBeNull();
  expect(Number(reminder?.[1])).toBeGreaterThanOrEqual(950);
  expect(count(out, /^worker +completed reminders\.sendReminder …\w{8} attempt 1 /)).toBe(1);
  // Parameter handling: refused at submit, naming the argument path.
  expect(out).toMatch(/^web +refused at submit \(TASKQ_UNSERIALIZABLE_ARGUMENT\): args\[0\]\.connection: /m);
  // Unit of work: the task submitted in the rolled-back unit of work never ran.
  expect(out).toMatch(
    /^web +unit of work rolled back \(could not save user bob@example\.com\): the task for bob@example\.com was dropped, never published$/m,
  );
  expect(out).not.toContain('bob@example.com, signed up');
  expect(count(out, /^worker +completed /)).toBe(4);
  expect(out).toMatch(/^demo +done: worker stopped, queue closed$/m);
}

describe('quick start demo (examples/quickstart/dist/demo.js)', () => {
  beforeAll(() => {
    if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run "npm run build" first`);
  });

  it('runs every task on the memory transport, with no services', async () => {
    const run = await runDemo({ TASKQ_URL: '' });
    expectTheWholeStory(run);
    expect(run.stdout).toContain('transport: memory (in-process, NOT durable)');
  });

  describe('with TASKQ_URL (RabbitMQ)', () => {
    const queue = `demo-test-${randomUUID().slice(0, 8)}`;

    afterAll(async () => {
      const connection = await connect(RABBIT_URL);
      try {
        const channel = await connection.createChannel();
        await channel.deleteQueue(`taskq.q.${queue}`);
        await channel.close();
      } finally {
        await connection.close();
      }
    });

    it('runs every task in a forked `taskq worker` process and stops it with SIGTERM', async () => {
      const run = await runDemo({ TASKQ_URL: RABBIT_URL, DEMO_QUEUE: queue });
      expectTheWholeStory(run);
      expect(run.stdout).toMatch(/^demo +transport: amqp, RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:5672/m);
      expect(run.stdout).toMatch(/^demo +worker process exited with code 0$/m);
      expect(run.stderr).toMatch(/worker started queues=demo-test-\w{8}/);
      // The broker password is never printed, by the demo or by the CLI.
      expect(`${run.stdout}${run.stderr}`).not.toContain('guest:guest');
    });
  });
});
