import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runDeadCommand } from '../src/cli/dead.js';
import { roundMs } from '../src/cli/worker-command.js';
import { HEADER } from '../src/adapter.js';
import { waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import { deletePrefix, RABBIT_URL, uniqueQueue, withChannel } from '../../../test-support/rabbit.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const MODULES = fileURLToPath(new URL('./fixtures/cli-modules/', import.meta.url));
const AMQP_MODULE = fileURLToPath(new URL('./fixtures/cli-worker.mjs', import.meta.url));

interface Run {
  readonly child: ChildProcess;
  output: string;
  readonly exited: Promise<number | null>;
}

describe('taskq worker: module shapes, TypeScript, what it prints', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function start(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Run {
    const child = spawn(process.execPath, [CLI, 'worker', ...args], {
      cwd: options.cwd ?? MODULES,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const run: Run = { child, output: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
    child.stdout?.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
    return run;
  }

  /** Starts the module, waits for its one task to complete, stops it with SIGTERM; returns the output. */
  async function runToCompletion(module: string): Promise<string> {
    const run = start([module], { env: { SHAPE: module } });
    await waitFor(
      () => run.output.includes('task completed') || run.child.exitCode !== null,
      `the worker of ${module} to run its task`,
      30_000,
    );
    run.child.kill('SIGTERM');
    const code = await run.exited;
    expect(run.output, run.output).toContain('task completed');
    expect(code).toBe(0);
    return run.output;
  }

  it.each([
    ['ESM export default', 'export-default.mjs'],
    ['CommonJS module.exports = worker', 'module-exports-worker.cjs'],
    ['CommonJS module.exports = factory', 'module-exports-factory.cjs'],
    ["TypeScript's CommonJS exports.default (__esModule)", 'exports-default.cjs'],
    ['a TypeScript file, through tsx resolved from the current directory', 'worker.ts'],
  ])('accepts %s', async (_shape, module) => {
    const output = await runToCompletion(module);
    expect(output).toContain('task=shapes.greet');
  });

  it('says what a module exported when it is not a worker', async () => {
    const run = start(['named-only.mjs']);
    expect(await run.exited).toBe(1);
    expect(run.output).toContain('found no default export, only named exports [registry, worker]');
    expect(run.output).toContain('module.exports = createWorker(...)');
  });

  it('says how to run a TypeScript module when no loader can be found', async () => {
    const elsewhere = mkdtempSync(`${tmpdir()}/taskq-no-tsx-`);
    dirs.push(elsewhere);
    const run = start([`${MODULES}worker.ts`], { cwd: elsewhere });
    expect(await run.exited).toBe(1);
    expect(run.output).toContain('npm i -D tsx');
    expect(run.output).toContain('node --import tsx node_modules/.bin/taskq worker');
    expect(run.output).toContain('TASKQ_NO_TYPESCRIPT_LOADER');
    expect(run.output).not.toContain('Unknown file extension');
  });

  it('prints durations rounded for people, not as performance.now() differences', async () => {
    const output = await runToCompletion('export-default.mjs');
    const shown = /durationMs=(\S+)/.exec(output)?.[1];
    expect(shown, output).toMatch(/^\d+(\.\d)?$/);
    expect([roundMs(31.433552999999847), roundMs(4.56789), roundMs(0.04)]).toEqual([31, 4.6, 0]);
  });

  it('reads TASKQ_PREFIX and refuses a module whose transport ignores it, before connecting', async () => {
    const prefix = `tq-${uniqueQueue('x').slice(-8)}`;
    // This module builds amqp({ url }) with no prefix, so it would serve the default `taskq` queues.
    const run = start([fileURLToPath(new URL('./fixtures/cli-modules/ignores-prefix.mjs', import.meta.url))], {
      env: { TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: prefix },
    });
    expect(await run.exited).toBe(1);
    expect(run.output).toContain(
      `TASKQ_PREFIX (or --prefix) is "${prefix}" but the module's transport uses prefix "taskq"`,
    );
    expect(run.output).not.toContain('worker started');
  });

  it('passes --prefix (over TASKQ_PREFIX) to a module that reads TASKQ_PREFIX, and logs the prefix it serves', async () => {
    const prefix = `tq-${uniqueQueue('x').slice(-8)}`;
    const queue = uniqueQueue('cli-prefix');
    const run = start([AMQP_MODULE, '--prefix', prefix], {
      env: { TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: 'not-this-one', QUEUE: queue, OUT_FILE: '/dev/null' },
    });
    try {
      await waitFor(
        () => run.output.includes('worker started') || run.child.exitCode !== null,
        'the worker to start',
        30_000,
      );
      expect(run.output).toContain(`prefix=${prefix}`);
      // The queue it consumes is under the prefix given on the command line.
      const consumers = await withChannel(
        async (channel) => (await channel.checkQueue(`${prefix}.q.${queue}`)).consumerCount,
      );
      expect(consumers).toBe(1);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      await deletePrefix(prefix, [queue]);
    }
  });
});

describe('taskq dead reads TASKQ_PREFIX', () => {
  const { broker } = isolatedPerTest();

  it('lists the dead letters of the prefix TASKQ_PREFIX names, like TASKQ_URL names the broker', async () => {
    const queueName = broker.queue('dead-env');
    await broker.amqp().deadLetter({
      id: '',
      queue: queueName,
      body: Buffer.from('{"v":1}'),
      headers: { [HEADER.reason]: 'malformed-message', [HEADER.originalQueue]: queueName },
    });
    const out: string[] = [];
    const code = await runDeadCommand(['list'], {
      env: { TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: broker.prefix },
      stdout: (text) => out.push(text),
    });
    expect(code).toBe(0);
    expect(out.join('')).toContain('malformed-message');
    expect(out.join('')).toContain('1 of 1 dead letter(s) shown');
  });
});
