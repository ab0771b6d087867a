// A CommonJS application and an ESM application, each compiled with the oldest supported TypeScript 5, with 6 and
// with the latest (the native 7), against the packed @taskq packages, with the tsconfig of docs/commonjs-and-esm.md
// less its `types` list: TypeScript 6 and later then load no @types package on their own, so the app compiles only if
// taskq's .d.ts bring what they need. The worker runs under the
// `taskq` CLI from the tarball; the submitter posts to an Express route that submits through @taskq/express.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RABBIT_URL } from '../../test-support/rabbit.js';
import { testBroker } from '../../test-support/taskq-amqp.js';
import { eventually } from '../../test-support/wait.js';
import { danglingSources, layOutNodeModules, type PackedPackage, packWorkspaces, REPO } from './packed.js';

const run = promisify(execFile);

const WORKSPACES = ['packages/core', 'packages/http', 'packages/express'];
// Third-party packages the tarballs and the app import, linked from the repository (their own dependencies resolve
// from there, through the link's real path).
const LINKED = ['amqplib', 'croner', 'express', '@types/express', '@types/node'];
const COMPILERS = ['typescript-5.8', 'typescript-6', 'typescript-7'] as const;
const FORMATS = ['commonjs', 'module'] as const;
const APP_FILES = ['tasks.ts', 'worker.ts', 'submit.ts'];

// docs/commonjs-and-esm.md's tsconfig without `types`; `skipLibCheck: false` so that taskq's own .d.ts are checked.
const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    module: 'nodenext',
    strict: true,
    skipLibCheck: false,
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

let work: string;
let packed: PackedPackage[];
const broker = testBroker('consumer');
const children: ChildProcess[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'taskq-consumers-'));
  packed = await packWorkspaces(WORKSPACES, join(work, 'tarballs'));
  await layOutNodeModules(join(work, 'node_modules'), packed, LINKED);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await broker.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed packages', () => {
  test('ship the sources their source maps and declaration maps point at', async () => {
    expect(packed.map((pkg) => pkg.name).sort()).toEqual(['@taskq/core', '@taskq/express', '@taskq/http']);
    for (const pkg of packed) {
      expect(pkg.files.some((file) => file.endsWith('.js.map'))).toBe(true);
      expect(await danglingSources(pkg, join(work, 'node_modules', pkg.name))).toEqual([]);
    }
  });
});

describe.each(FORMATS)('a "type": "%s" application', (format) => {
  test.each(COMPILERS)('compiled with %s runs a task through the CLI-started worker', async (compiler) => {
    const app = join(work, `${format}-${compiler}`);
    await mkdir(join(app, 'src'), { recursive: true });
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: format }));
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    for (const file of APP_FILES) await copyFile(join(import.meta.dirname, 'app', file), join(app, 'src', file));
    await symlink(join(work, 'node_modules'), join(app, 'node_modules'), 'dir');

    const tsc = join(REPO, 'node_modules', compiler, 'bin', 'tsc');
    const compiled = await run(process.execPath, [tsc, '-p', app], { cwd: app }).then(
      () => 'ok',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(compiled).toBe('ok');
    const workerJs = await readFile(join(app, 'dist', 'worker.js'), 'utf8');
    if (format === 'commonjs') expect(workerJs).toMatch(/exports\.default = worker/);
    else expect(workerJs).toMatch(/^export default worker;$/m);

    const queue = broker.queue(`consumer-${format}`);
    const env = { ...process.env, TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: broker.prefix, CONSUMER_QUEUE: queue };
    const cli = join(app, 'node_modules', '@taskq', 'core', 'bin', 'taskq.js');
    const worker = spawn(process.execPath, [cli, 'worker', 'dist/worker.js'], { cwd: app, env });
    children.push(worker);
    let output = '';
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(() => output.includes('worker started') || worker.exitCode !== null, 'the worker to start');
    expect(worker.exitCode, output).toBeNull();

    const marker = join(app, 'marker.txt');
    const submitted = await run(process.execPath, ['dist/submit.js', marker, `ran as ${format}`], { cwd: app, env });
    expect(submitted.stdout).toMatch(/^submitted [0-9a-f-]{36}$/m);
    await eventually(
      () =>
        readFile(marker, 'utf8').then(
          (text) => text === `ran as ${format}`,
          () => false,
        ),
      `the task to write ${marker}; worker output:\n${output}`,
    );

    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
    expect(output).toContain('worker stopped');
  });
});
