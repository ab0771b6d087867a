import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_DOCS_PATH, renderErrorDocs } from '../../../scripts/error-docs.js';
import { ERROR_CODES, TaskqError, type TaskqErrorCode } from '../src/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** `TASKQ_*` names that are environment variables, not error codes. */
const ENVIRONMENT = new Set(['TASKQ_URL', 'TASKQ_PREFIX', 'TASKQ_STORE', 'TASKQ_FAILPOINT', 'TASKQ_TEST_URL']);
const CATALOGUE_FILE = 'packages/core/src/error-codes.ts';

function sources(): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) out.push({ path: relative(root, full), text: readFileSync(full, 'utf8') });
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    try {
      walk(src);
    } catch {
      // a package without src/
    }
  }
  return out.filter((file) => file.path !== CATALOGUE_FILE);
}

/** Each `class X extends Y { ... super(... 'TASKQ_...' ...) }` as [class, code]. */
function classCodes(text: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const parts = text.split(/(?=\bclass \w+ extends \w+)/);
  for (const part of parts) {
    const name = /^class (\w+) extends/.exec(part)?.[1];
    if (!name) continue;
    // From super( to the end of the constructor: a message may hold a ';' or span lines.
    const call = /\bsuper\(([\s\S]*?)\n {2}\}/.exec(part)?.[1] ?? '';
    for (const match of call.matchAll(/['"`](TASKQ_[A-Z0-9_]+)['"`]/g)) pairs.push([name, match[1]]);
  }
  return pairs;
}

describe('the error catalogue', () => {
  const files = sources();
  const codes = ERROR_CODES as Readonly<Record<string, (typeof ERROR_CODES)[TaskqErrorCode]>>;

  it('lists every TASKQ_ code that a source file of any package names, and only codes', () => {
    const used = new Map<string, string>();
    for (const file of files) {
      for (const match of file.text.matchAll(/['"`](TASKQ_[A-Z0-9_]+)['"`]/g)) used.set(match[1], file.path);
    }
    const missing = [...used]
      .filter(([code]) => !ENVIRONMENT.has(code) && !(code in codes))
      .map(([code, path]) => `${code} (${path})`);
    console.log(
      `error catalogue: ${Object.keys(codes).length} codes; ${used.size} distinct TASKQ_ names in ${files.length} source files`,
    );
    expect(missing).toEqual([]);
    expect(Object.keys(codes).filter((code) => ENVIRONMENT.has(code))).toEqual([]);
    const unused = Object.keys(codes).filter((code) => !used.has(code));
    expect(unused).toEqual([]);
  });

  it('has no bare new TaskqError(code) outside the errors.ts files: every code is thrown by its class', () => {
    const bare = files
      .filter((file) => !file.path.endsWith('/errors.ts') && /new TaskqError\(\s*['"`]/.test(file.text))
      .map((file) => file.path);
    expect(bare).toEqual([]);
    const anywhere = files.filter((file) => /new TaskqError\(\s*['"`]TASKQ_/.test(file.text)).map((file) => file.path);
    expect(anywhere).toEqual([]);
  });

  it('names, for each code, the one class that carries it, and that class uses that code', () => {
    const found = new Map<string, Set<string>>();
    for (const file of files) {
      for (const [name, code] of classCodes(file.text)) {
        expect(codes[code]?.error, `${file.path}: class ${name} uses ${code}`).toBe(name);
        found.set(code, (found.get(code) ?? new Set()).add(name));
      }
    }
    const withoutClass = Object.entries(codes)
      .filter(([code, info]) => info.error !== null && !found.has(code))
      .map(([code]) => code);
    expect(withoutClass).toEqual([]);
    // One condition, one class: TASKQ_TYPEORM_SETUP used to be thrown both as TypeormSetupError and as a bare code.
    expect([...(found.get('TASKQ_TYPEORM_SETUP') ?? [])]).toEqual(['TypeormSetupError']);
  });

  it('types TaskqError.code by the catalogue', () => {
    const error = new TaskqError('TASKQ_CLOSED', 'closed');
    const code: TaskqErrorCode = error.code;
    expect(code).toBe('TASKQ_CLOSED');
    // @ts-expect-error a code that is not in the catalogue does not compile
    expect(new TaskqError('TASKQ_NOT_A_CODE', 'x').code).toBe('TASKQ_NOT_A_CODE');
  });

  it('is what docs/errors.md lists (npm run docs:errors writes it)', () => {
    const page = readFileSync(join(root, ERROR_DOCS_PATH), 'utf8');
    expect(page).toBe(renderErrorDocs());
    for (const code of Object.keys(codes)) expect(page).toContain(`\`${code}\``);
  });
});
