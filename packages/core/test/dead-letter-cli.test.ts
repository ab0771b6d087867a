import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runDeadCommand } from '../src/cli/dead.js';
import {
  createQueue,
  createWorker,
  currentTask,
  type DeadEvent,
  NonRetryableError,
  TaskRegistry,
} from '../src/index.js';
import { HEADER } from '../src/adapter.js';
import { eventually, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest, transportPairs } from './support/isolated.js';
import { RABBIT_URL } from './support/rabbit.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

const transports = transportPairs('dead');

for (const [kind, make] of Object.entries(transports)) {
  describe(`dead-letter queue and taskq dead: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    /** Three dead letters with three reasons: attempts exhausted, non-retryable, not JSON. */
    async function deadLetters() {
      const env = make(broker);
      let healed = false;
      const runs: Array<{ n: number; attempt: number }> = [];
      async function flaky(n: number) {
        runs.push({ n, attempt: currentTask().attempt });
        if (!healed) throw new Error(`downstream refused #${n}`);
        return n;
      }
      async function invalid() {
        throw new NonRetryableError('the address is malformed');
      }
      const registry = new TaskRegistry().add('dead.flaky', flaky).add('dead.invalid', invalid);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName] });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const dead: DeadEvent[] = [];
      const completed: string[] = [];
      worker.on('dead', (event) => dead.push(event));
      worker.on('completed', (event) => completed.push(event.id));
      await worker.start();
      const before = Date.now();
      const exhausted = await queue.with({ attempts: 2, backoff: { type: 'fixed', delay: 50 } }).submit(flaky, 1);
      await waitFor(() => dead.length === 1, 'the exhausted task');
      const nonRetryable = await queue.submit(invalid);
      await waitFor(() => dead.length === 2, 'the non-retryable task');
      await env.submitter.publish({ id: '', queue: env.queueName, body: Buffer.from('this is not JSON'), headers: {} });
      await waitFor(() => dead.length === 3, 'the malformed message');
      await eventually(async () => (await env.consumer.dead.count()) === 3, 'three stored dead letters');
      return { env, exhausted, nonRetryable, before, runs, completed, heal: () => (healed = true) };
    }

    it('keeps each dead letter with reason, last error and stack, attempts and timestamps; listing removes nothing', async () => {
      const { env, exhausted, nonRetryable, before } = await deadLetters();
      const records = await env.consumer.dead.list();
      expect(records).toHaveLength(3);
      const [first, second, third] = records;
      expect(first).toMatchObject({
        id: exhausted.id,
        queue: env.queueName,
        task: 'dead.flaky',
        reason: 'attempts-exhausted',
        error: 'downstream refused #1',
        attempts: 2,
        retries: 0,
      });
      expect(first.errorStack).toContain('downstream refused #1');
      expect(first.errorStack).toContain('flaky');
      expect(first.deadAt?.getTime()).toBeGreaterThanOrEqual(before);
      expect(first.submittedAt?.getTime()).toBeGreaterThanOrEqual(before);
      expect(first.submittedAt?.getTime()).toBeLessThanOrEqual(first.deadAt?.getTime() as number);
      expect(second).toMatchObject({
        id: nonRetryable.id,
        reason: 'non-retryable',
        error: 'the address is malformed',
        attempts: 1,
      });
      expect(third).toMatchObject({
        queue: env.queueName,
        task: undefined,
        reason: 'malformed-message',
        submittedAt: undefined,
      });
      // A raw message without a message id still gets one, so an operator can name it.
      expect(third.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(third.error).toContain('not JSON');
      expect(third.body.toString()).toBe('this is not JSON');
      // Listing is a read: the letters are all still there, in the same order.
      expect((await env.consumer.dead.list()).map((r) => r.id)).toEqual(records.map((r) => r.id));
      expect(await env.consumer.dead.list(2)).toHaveLength(2);
      expect(await env.consumer.dead.count()).toBe(3);
    });

    it('taskq dead list prints one line per letter (or JSON), retry <id> re-runs it as attempt 1, retry --all and purge empty the queue', async () => {
      const { env, exhausted, runs, completed, heal } = await deadLetters();
      const out: string[] = [];
      const cli = (...argv: string[]) =>
        runDeadCommand(argv, { transport: env.consumer, stdout: (text) => out.push(text) });

      expect(await cli('list')).toBe(0);
      const lines = out.join('').trim().split('\n');
      expect(lines).toHaveLength(4);
      expect(lines[0]).toContain(exhausted.id);
      expect(lines[0]).toContain('attempts-exhausted');
      expect(lines[0]).toContain('attempts=2');
      expect(lines[0]).toContain('error="downstream refused #1"');
      expect(lines[1]).toContain('non-retryable');
      expect(lines[2]).toContain('malformed-message');
      expect(lines[3]).toBe('3 of 3 dead letter(s) shown');

      out.length = 0;
      expect(await cli('list', '--json', '--limit', '1')).toBe(0);
      const json = JSON.parse(out.join('').trim());
      expect(json).toMatchObject({
        id: exhausted.id,
        reason: 'attempts-exhausted',
        attempts: 2,
        queue: env.queueName,
        task: 'dead.flaky',
      });
      expect(json.errorStack).toContain('downstream refused #1');
      expect(typeof json.deadAt).toBe('string');
      expect(typeof json.submittedAt).toBe('string');

      heal();
      runs.length = 0;
      out.length = 0;
      expect(await cli('retry', exhausted.id)).toBe(0);
      await waitFor(() => completed.includes(exhausted.id), 'the retried task to complete');
      expect(runs).toEqual([{ n: 1, attempt: 1 }]);
      expect(await env.consumer.dead.count()).toBe(2);

      out.length = 0;
      expect(await cli('retry', 'no-such-id')).toBe(1);
      expect(out.join('')).toContain('no dead letter with id no-such-id');
      expect(await env.consumer.dead.count()).toBe(2);

      // Both remaining letters fail again (one is non-retryable, one is not JSON) and come back, counted as retried
      // once.
      out.length = 0;
      expect(await cli('retry', '--all')).toBe(0);
      expect(out.join('')).toContain('sent 2 dead letter(s) back');
      await eventually(
        async () =>
          (await env.consumer.dead.count()) === 2 && (await env.consumer.dead.list()).every((r) => r.retries === 1),
        'both letters dead again',
      );
      const again = await env.consumer.dead.list();
      expect(again.map((r) => r.reason).sort()).toEqual(['malformed-message', 'non-retryable']);

      out.length = 0;
      expect(await cli('purge')).toBe(0);
      expect(out.join('')).toContain('purged 2 dead letter(s)');
      expect(await env.consumer.dead.count()).toBe(0);
      expect(await env.consumer.dead.list()).toEqual([]);
    });
  });
}

describe('taskq dead as a command', () => {
  const { broker } = isolatedPerTest();

  it('runs from the CLI entry with TASKQ_URL, never prints the password, and fails clearly on bad usage', async () => {
    const transport = broker.amqp();
    const queueName = broker.queue('cli');
    await transport.deadLetter({
      id: '',
      queue: queueName,
      body: Buffer.from('{"v":1}'),
      headers: { [HEADER.reason]: 'malformed-message', [HEADER.originalQueue]: queueName },
    });
    const env = { ...process.env, TASKQ_URL: RABBIT_URL };
    const node = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', MAIN, ...args], { env, timeout: 30_000 });

    const list = await node(['dead', 'list', '--prefix', broker.prefix]);
    expect(list.stdout).toContain('malformed-message');
    expect(list.stdout).toContain('1 of 1 dead letter(s) shown');
    expect(list.stdout + list.stderr).not.toContain('guest:guest');

    const usage = await node(['dead', 'retry', '--prefix', broker.prefix]).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(usage).toMatchObject({ code: 1 });
    expect((usage as { stderr: string }).stderr).toContain('give one or more ids, or --all');

    const purge = await node(['dead', 'purge', '--prefix', broker.prefix]);
    expect(purge.stdout).toContain('purged 1 dead letter(s)');
  });
});
