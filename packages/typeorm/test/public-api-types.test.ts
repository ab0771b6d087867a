import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./types/api-types.ts', import.meta.url));

it('the public API is typed: intended uses compile, each wrong use is a compile error', async () => {
  const args = [TSC, '--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--types', 'node', FIXTURE];
  const output = await run(process.execPath, args).then(
    ({ stdout }) => stdout,
    (error: { stdout?: string }) => String(error.stdout ?? error),
  );
  expect(output).toBe('');
});
