import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TaskqError } from '../errors.js';

/** File extensions Node cannot import without a TypeScript loader (before its own type stripping). */
export const TYPESCRIPT_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** A TypeScript worker module was given and no TypeScript loader could be found. */
export class TypeScriptLoaderMissingError extends TaskqError {
  constructor(modulePath: string) {
    super(
      'TASKQ_NO_TYPESCRIPT_LOADER',
      `${modulePath} is TypeScript and no TypeScript loader was found from ${process.cwd()}: install one (npm i -D tsx) and taskq uses it, ` +
        `or run through a loader (node --import tsx node_modules/.bin/taskq worker ${modulePath}), or build first and run the .js output`,
    );
  }
}

/** True when the process already runs TypeScript: started with a loader, or a Node that strips types itself. */
function typeScriptAlreadyLoads(): boolean {
  if ((process.features as { typescript?: unknown }).typescript) return true;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((flag) => /(^|[=/\s])(tsx|ts-node)([/=]|$)|strip-types|transform-types/.test(flag));
}

let registered = false;

type ExportTarget = string | { readonly [condition: string]: ExportTarget } | null;

/**
 * The file `import pkg/subpath` would load from the current directory. Node 20
 * has no unflagged `import.meta.resolve` from another directory, and
 * `require.resolve` picks the CommonJS build, so the package's exports map is read.
 */
function resolveImport(pkg: string, subpath: string): string | undefined {
  let manifestPath: string;
  try {
    manifestPath = createRequire(join(process.cwd(), 'package.json')).resolve(`${pkg}/package.json`);
  } catch {
    return undefined;
  }
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, ExportTarget> };
  let target: ExportTarget | undefined = manifest.exports?.[subpath];
  while (target && typeof target === 'object') target = target.import ?? target.default;
  return typeof target === 'string' ? join(dirname(manifestPath), target) : undefined;
}

/**
 * Lets `import()` run a TypeScript worker module: registers tsx (ESM and
 * CommonJS hooks) when the application has it installed. taskq does not
 * depend on tsx; it is resolved from the current directory, where the
 * application's own node_modules are.
 */
export async function registerTypeScript(modulePath: string): Promise<void> {
  if (registered || typeScriptAlreadyLoads()) return;
  const apis = [resolveImport('tsx', './esm/api'), resolveImport('tsx', './cjs/api')];
  if (apis.some((api) => api === undefined)) throw new TypeScriptLoaderMissingError(modulePath);
  for (const api of apis as string[]) {
    const namespace = (await import(pathToFileURL(api).href)) as { register?: () => unknown };
    namespace.register?.();
  }
  registered = true;
}
