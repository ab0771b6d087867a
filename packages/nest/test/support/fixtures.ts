import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const TEST_DIR = fileURLToPath(new URL('../', import.meta.url));

/**
 * Transpiles test/fixtures/*.ts with tsc's emitter (which, unlike esbuild/tsx,
 * emits decorator metadata) into a fresh folder inside the package, so the
 * child process resolves @taskq/nest and @nestjs/* from the workspace's
 * node_modules. Type-checking is left to the build; this takes milliseconds.
 */
export function compileFixtures(): { dir: string; remove: () => void } {
  const dir = join(TEST_DIR, `.tmp-${randomUUID().slice(0, 8)}`);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(FIXTURES).filter((f) => f.endsWith('.ts'))) {
    const output = ts.transpileModule(readFileSync(join(FIXTURES, file), 'utf8'), {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.ES2022,
        target: ts.ScriptTarget.ES2022,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        verbatimModuleSyntax: true,
      },
    });
    writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), output.outputText);
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
