import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidOptionError } from '../errors.js';
import type { Worker } from '../worker.js';
import { registerTypeScript, TYPESCRIPT_EXTENSIONS } from './typescript.js';

/** What the CLI passes to a worker factory: the command-line overrides. */
export interface WorkerFactoryOptions {
  readonly concurrency?: number;
  readonly queues?: readonly string[];
}

/**
 * A worker module exports a worker, or a (possibly async) factory returning
 * one: as its ESM default export, as CommonJS `module.exports`, or as
 * TypeScript's CommonJS output of `export default` (`exports.default`).
 */
export type WorkerModuleExport = Worker | ((options: WorkerFactoryOptions) => Worker | Promise<Worker>);

function isWorkerLike(value: unknown): value is Worker {
  // Duck-typed: the module may have been built against another installed copy of @taskq/core.
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Worker).start === 'function' &&
    typeof (value as Worker).stop === 'function' &&
    typeof (value as Worker).on === 'function'
  );
}

const usable = (value: unknown): boolean => isWorkerLike(value) || typeof value === 'function';

/**
 * The worker or factory a module exports, whichever way it was compiled.
 * Node hands a CommonJS module to `import()` as `{ default: module.exports }`;
 * TypeScript compiles `export default x` to CommonJS as `exports.default = x`,
 * which arrives one level deeper, as `default.default`.
 */
export function pickExport(namespace: Record<string, unknown>): unknown {
  const candidates = [namespace.default, namespace['module.exports']];
  for (const candidate of candidates) {
    if (usable(candidate)) return candidate;
    if (typeof candidate === 'object' && candidate !== null && usable((candidate as { default?: unknown }).default))
      return (candidate as { default: unknown }).default;
  }
  return undefined;
}

/** A short description of what a module exported instead of a worker, for the error message. */
export function describeExports(namespace: Record<string, unknown>): string {
  const exported = namespace.default;
  if (exported === undefined) {
    const names = Object.keys(namespace);
    return names.length === 0 ? 'no exports at all' : `no default export, only named exports [${listKeys(names)}]`;
  }
  return `a default export that is ${describeValue(exported)}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty object' : `an object with keys [${listKeys(keys)}]`;
  }
  return `a ${typeof value}`;
}

function listKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, 12).map((key) => JSON.stringify(key).slice(1, -1));
  return keys.length > shown.length ? `${shown.join(', ')}, … ${keys.length - shown.length} more` : shown.join(', ');
}

const EXPECTED =
  'a worker or a function returning one, as `export default createWorker(...)`, `module.exports = createWorker(...)` or `exports.default = ...`';

/** Imports the module and returns its worker, applying overrides through its factory. */
export async function loadWorker(modulePath: string, overrides: WorkerFactoryOptions): Promise<Worker> {
  const file = resolve(process.cwd(), modulePath);
  if (TYPESCRIPT_EXTENSIONS.has(extname(file).toLowerCase())) await registerTypeScript(modulePath);
  const namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const exported = pickExport(namespace);
  if (exported === undefined)
    throw new InvalidOptionError(
      'module',
      `${modulePath} must export ${EXPECTED}; found ${describeExports(namespace)}`,
    );
  if (isWorkerLike(exported)) {
    if (overrides.concurrency !== undefined || overrides.queues !== undefined) {
      throw new InvalidOptionError(
        '--concurrency/--queues',
        `${modulePath} exports a ready-made worker; export a factory (options) => createWorker({ ...options }) to let the command line set concurrency and queues`,
      );
    }
    return exported;
  }
  // Only flags actually given: `{ ...defaults, ...options }` in the factory must not see `queues: undefined`.
  const given: { concurrency?: number; queues?: readonly string[] } = {};
  if (overrides.concurrency !== undefined) given.concurrency = overrides.concurrency;
  if (overrides.queues !== undefined) given.queues = overrides.queues;
  const worker = await (exported as (options: WorkerFactoryOptions) => unknown)(given);
  if (isWorkerLike(worker)) return worker;
  throw new InvalidOptionError(
    'module',
    `the function ${modulePath} exports did not return a worker (createWorker(...)); it returned ${describeValue(worker)}`,
  );
}
