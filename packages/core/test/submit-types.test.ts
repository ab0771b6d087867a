import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./types/submit-types.ts', import.meta.url));

async function compile(file: string): Promise<{ ok: boolean; output: string }> {
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
    file,
  ];
  try {
    const { stdout } = await run(process.execPath, args);
    return { ok: true, output: stdout };
  } catch (error) {
    return { ok: false, output: String((error as { stdout?: string }).stdout ?? error) };
  }
}

describe('submit(fn, ...args) is type-checked against the function', () => {
  it('compiles with every wrong call marked @ts-expect-error (an unused directive would fail)', async () => {
    const result = await compile(FIXTURE);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('without the directives, each wrong call is a compile error', async () => {
    const dir = mkdtempSync(join(fileURLToPath(new URL('./types/', import.meta.url)), '.tmp-'));
    try {
      const stripped = readFileSync(FIXTURE, 'utf8')
        .replace(/^\s*\/\/ @ts-expect-error.*$/gm, '')
        .replaceAll("'../../src/index.js'", "'../../../src/index.js'");
      const file = join(dir, 'stripped.ts');
      writeFileSync(file, stripped);
      const result = await compile(file);
      expect(result.ok).toBe(false);
      const errors = result.output.split('\n').filter((line) => line.includes('error TS'));
      expect(errors.length).toBe(6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
