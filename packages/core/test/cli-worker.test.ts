import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue } from '../src/index.js';
import { deleteQueues, queueDepth, RABBIT_URL, testAmqp, uniqueQueue } from './support/rabbit.js';
import { waitFor } from '../../../test-support/wait.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/cli-worker.mjs', import.meta.url));

function lines(file: string, prefix: string): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${prefix} `))
    .map((line) => Number(line.slice(prefix.length + 1)));
}

describe('taskq worker CLI', () => {
  let child: ChildProcess | undefined;
  const queues: string[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await deleteQueues(queues.splice(0));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('prints useful help', async () => {
    const out = await new Promise<string>((resolve) => {
      const help = spawn(process.execPath, [CLI, '--help']);
      let text = '';
      help.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      help.on('exit', () => resolve(text));
    });
    expect(out).toContain('taskq worker <module>');
    expect(out).toContain('--concurrency');
  });

  it('runs a worker module, processes tasks and drains in-flight tasks on SIGTERM, losing none', async () => {
    const queue = uniqueQueue('cli');
    queues.push(queue);
    const dir = mkdtempSync(join(tmpdir(), 'taskq-cli-'));
    dirs.push(dir);
    const outFile = join(dir, 'out.txt');
    const fixture = (await import(FIXTURE)) as {
      registry: import('../src/index.js').TaskRegistry;
      record: (n: number) => Promise<number>;
    };

    child = spawn(process.execPath, [CLI, 'worker', FIXTURE, '--concurrency', '4'], {
      env: { ...process.env, TASKQ_URL: RABBIT_URL, QUEUE: queue, OUT_FILE: outFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
    await waitFor(() => output.includes('worker started'), 'the worker to start');
    expect(output).toContain('concurrency=4');

    const submitter = createQueue({ registry: fixture.registry, transport: testAmqp(), defaults: { queue } });
    await submitter.submitMany(
      fixture.record,
      Array.from({ length: 40 }, (_, i) => [i] as [number]),
    );
    await submitter.close();
    await waitFor(() => lines(outFile, 'done').length >= 8, `some tasks to finish; worker output:\n${output}`);
    child.kill('SIGTERM');
    const code = await exited;

    const started = lines(outFile, 'start');
    const done = lines(outFile, 'done');
    const left = await queueDepth(queue);
    console.log(`[cli SIGTERM] submitted=40 started=${started.length} completed=${done.length} left-in-queue=${left}`);
    expect(code).toBe(0);
    expect(output).toContain('SIGTERM: stopping');
    // Every task that started also finished (drained), and the rest are still queued: nothing lost.
    expect(done.sort((a, b) => a - b)).toEqual(started.sort((a, b) => a - b));
    expect(done.length + left).toBe(40);
    expect(done.length).toBeLessThan(40);
  });
});
