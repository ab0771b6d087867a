// Every ```ts block of README.md, docs/*.md and the package READMEs compiles against the workspace packages (built).
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checkDocs, documents, extract } from '../../scripts/docs-code/check.js';
import { REPO } from '../consumers/packed.js';

const outDirs: string[] = [];
const outDir = (): string => {
  const dir = join(REPO, 'node_modules/.cache', `taskq-docs-code-${randomUUID().slice(0, 8)}`);
  outDirs.push(dir);
  return dir;
};

afterAll(async () => {
  for (const dir of outDirs) await rm(dir, { recursive: true, force: true });
});

describe('the code blocks of the docs', () => {
  test('compile, every one of them', () => {
    const docs = documents();
    expect(docs).toContain('README.md');
    expect(docs).toContain('docs/commonjs-and-esm.md');
    expect(docs).toContain('packages/typeorm/README.md');
    const { errors, files, skipped } = checkDocs(docs, outDir());
    expect(errors.map((error) => `${error.where}: ${error.message}`)).toEqual([]);
    expect(files).toBeGreaterThan(40);
    expect(skipped).toEqual([]);
  });

  test('a block that does not compile is reported at its line in the document', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taskq-docs-'));
    const doc = join(dir, 'broken.md');
    const markdown = [
      '# Broken',
      '',
      '```ts',
      "import { createWorker } from '@taskq/core';",
      'const worker = createWorker({ registry, transport });',
      'worker.onStartup(() => dataSource.initialize()); // any promise is a hook',
      'await queue.submit(sendWelcomeMail, 42);',
      '```',
      '',
    ].join('\n');
    await writeFile(doc, markdown);
    try {
      const { errors } = checkDocs([doc], outDir());
      expect(errors).toHaveLength(1);
      expect(errors[0]?.where).toBe(`${doc}:7`);
      expect(errors[0]?.message).toMatch(/'number' is not assignable to parameter of type 'User'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('blocks split at `// path.ts` lines, take a prelude or are skipped by an HTML comment', () => {
    const markdown = [
      '<!-- docs-code: prelude express -->',
      '```ts',
      '// tasks/a.ts',
      'export const a = 1;',
      '// tasks/b.ts — another file',
      'export const b = 2;',
      '```',
      '<!-- docs-code: skip (pseudo-code) -->',
      '```typescript',
      'not code',
      '```',
    ].join('\n');
    const { files, skipped } = extract('x.md', markdown);
    expect(files.map((file) => [file.name, file.line, file.prelude])).toEqual([
      ['tasks/a.ts', 3, 'express'],
      ['tasks/b.ts', 5, 'express'],
    ]);
    expect(skipped).toEqual([{ doc: 'x.md', line: 9, reason: 'pseudo-code' }]);
  });
});
