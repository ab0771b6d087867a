import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./types/api-types.ts', import.meta.url));

it('the public API is typed: intended uses compile, each wrong use is a compile error', async () => {
  const args = [
    TSC,
    '--noEmit',
    '--strict',
    '--target',
    'ES2022',
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--skipLibCheck',
    '--types',
    'node',
    FIXTURE,
  ];
  const output = await run(process.execPath, args).then(
    ({ stdout }) => stdout,
    (error: { stdout?: string }) => String(error.stdout ?? error),
  );
  expect(output).toBe('');
});

it('the exports use the glossary words: taskTransaction and outboxRelay, no old names kept as aliases', async () => {
  const api: Record<string, unknown> = await import('../src/index.js');
  expect(typeof api.taskTransaction).toBe('function');
  expect(typeof api.outboxRelay).toBe('function');
  expect(typeof api.OutboxRelay).toBe('function');
  expect(Object.keys(api).filter((name) => ['typeormTransaction', 'outbox'].includes(name))).toEqual([]);
});
