import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as adapter from '../src/adapter.js';
import * as root from '../src/index.js';

const read = (path: string): string => readFileSync(new URL(path, import.meta.url), 'utf8');

/** Names the root entry exported that are adapter plumbing or internals. */
const PLUMBING_VALUES = [
  'checkRequestContext',
  'TRAVELLING_HEADERS',
  'currentUnitOfWork',
  'requestCodec',
  'REQUEST_CONTEXT',
  'HEADER',
  'parseDuration',
  'isFinished',
];
const INTERNAL_VALUES = [
  'encodeArgs',
  'decodeArgs',
  'CodecSet',
  'builtinCodecs',
  'parseEnvelope',
  'ENVELOPE_VERSION',
  'redactUrl',
];
/** Factory + class pairs: the factory is the one way in; the class is a type only. */
const CLASSES_BEHIND_FACTORIES = ['AmqpTransport', 'MemoryTransport', 'MemoryResultStore', 'Worker', 'UnitOfWork'];
/** Type-only names of adapter plumbing. */
const PLUMBING_TYPES = [
  'PreparedTask',
  'StageTasks',
  'UnitOfWorkOptions',
  'OutgoingMessage',
  'Delivery',
  'MessageHeaders',
  'StoredStatus',
  'EnqueuedRecord',
  'ContextualRequest',
];

describe("core's entry points", () => {
  it('the root entry exports no adapter plumbing, no internals and no class behind a factory', () => {
    const names = Object.keys(root);
    console.log(
      `@taskq/core root: ${names.length} runtime exports; @taskq/core/adapter: ${Object.keys(adapter).length}`,
    );
    expect(
      names.filter((name) => [...PLUMBING_VALUES, ...INTERNAL_VALUES, ...CLASSES_BEHIND_FACTORIES].includes(name)),
    ).toEqual([]);
    expect(typeof root.amqp).toBe('function');
    expect(typeof root.memory).toBe('function');
    expect(typeof root.createWorker).toBe('function');
    expect(typeof root.memoryResultStore).toBe('function');
  });

  it('@taskq/core/adapter exports what adapters and @taskq/typeorm build on, and no internals', () => {
    for (const name of PLUMBING_VALUES) expect(adapter, name).toHaveProperty(name);
    expect(adapter.TASK_ID_PATTERN.test('0190a5c4-7b3e-7cc1-9a2b-3c4d5e6f7a8b')).toBe(true);
    expect(adapter.TASK_ID_PATTERN.test('../etc/passwd')).toBe(false);
    expect(Object.keys(adapter).filter((name) => INTERNAL_VALUES.includes(name))).toEqual([]);
  });

  it('the package maps both entry points, each with types', () => {
    const pkg = JSON.parse(read('../package.json')) as {
      exports: Record<string, { types?: string; default?: string }>;
    };
    // `default`, not `import`: a CommonJS application require()s the ES module (Node.js 20.19+), see
    // docs/commonjs-and-esm.md.
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(pkg.exports['./adapter']).toEqual({ types: './dist/adapter.d.ts', default: './dist/adapter.js' });
  });

  it('the committed API reports show the surface: type-only plumbing is not exported from the root, @internal members are gone', () => {
    const report = read('../api/core.api.md');
    const exported = (name: string): boolean =>
      new RegExp(`^export (declare )?(class|interface|type|function|const) ${name}\\b`, 'm').test(report);
    expect(PLUMBING_TYPES.filter(exported)).toEqual([]);
    expect([...PLUMBING_VALUES, ...INTERNAL_VALUES].filter(exported)).toEqual([]);
    expect(exported('TaskQueue')).toBe(true);
    // UnitOfWork.add() is the queue's business: stripInternal keeps it out of the published .d.ts.
    const unitOfWork = /^(?:export )?class UnitOfWork \{[\s\S]*?^\}/m.exec(report)?.[0] ?? '';
    expect(unitOfWork).toContain('commit(): Promise<void>;');
    expect(unitOfWork).not.toMatch(/\badd\(/);
    const adapterReport = read('../api/core-adapter.api.md');
    for (const name of ['PreparedTask', 'StageTasks', 'currentUnitOfWork', 'requestCodec'])
      expect(adapterReport).toMatch(new RegExp(`^export .*\\b${name}\\b`, 'm'));
  });
});
