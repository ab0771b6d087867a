import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecSet } from '../src/codecs/codec-set.js';
import { decodeArgs } from '../src/codecs/decode.js';
import type { Codec } from '../src/codecs/types.js';
import { DecodeError } from '../src/errors.js';

// Property test of the decoder against generated messages: structured,
// near-valid codec values ({"$t":"Map",...} nested, with hostile keys, deep
// nesting and extreme numbers), written as JSON text and parsed, as a worker
// receives them. Every input must decode or fail with a DecodeError, leave
// every built-in prototype as it was, even after the decoded value is turned
// into objects and deep-merged the way task code does, and finish.
//
// TASKQ_FUZZ_RUNS sets the number of inputs (100,000 by default, as in CI);
// TASKQ_FUZZ_SEED replays a run (fast-check prints the seed of a failure).

const RUNS = Number(process.env.TASKQ_FUZZ_RUNS ?? 100_000);
const SEED = process.env.TASKQ_FUZZ_SEED === undefined ? undefined : Number(process.env.TASKQ_FUZZ_SEED);
/** Not a speed target: a single input that takes this long means a hang, which the property forbids. */
const HANG_MS = 2_000;

// A user codec that builds an object from pairs (as a naive codec might), and an async one: their outputs obey the key
// rule too.
const pairsCodec: Codec = {
  name: 'Pairs',
  test: () => false,
  encode: (v) => v,
  decode: (data) =>
    Array.isArray(data) ? Object.fromEntries(data.filter(Array.isArray) as [string, unknown][]) : data,
};
const asyncCodec: Codec = {
  name: 'Later',
  test: () => false,
  encode: (v) => v,
  decode: async (data) => ({ later: data }),
};
const codecs = new CodecSet([pairsCodec, asyncCodec]);

// ---- the prototypes that must stay as they were --------------------------------------------------------------

const PROTOTYPES: ReadonlyArray<readonly [string, object]> = [
  ['Object', Object.prototype],
  ['Array', Array.prototype],
  ['Map', Map.prototype],
  ['Set', Set.prototype],
  ['Function', Function.prototype],
  ['String', String.prototype],
  ['Number', Number.prototype],
  ['Boolean', Boolean.prototype],
  ['BigInt', BigInt.prototype],
  ['Date', Date.prototype],
  ['RegExp', RegExp.prototype],
  ['Error', Error.prototype],
  ['Promise', Promise.prototype],
  ['URL', URL.prototype],
  ['Uint8Array', Uint8Array.prototype],
  ['Buffer', Buffer.prototype],
  ['TypedArray', Object.getPrototypeOf(Uint8Array.prototype) as object],
];

interface Snapshot {
  readonly proto: object | null;
  readonly keys: ReadonlyArray<string | symbol>;
  readonly descriptors: ReadonlyMap<string | symbol, PropertyDescriptor>;
}

function snapshot(target: object): Snapshot {
  const keys = Reflect.ownKeys(target);
  const descriptors = new Map<string | symbol, PropertyDescriptor>();
  for (const key of keys) descriptors.set(key, Object.getOwnPropertyDescriptor(target, key) as PropertyDescriptor);
  return { proto: Object.getPrototypeOf(target), keys, descriptors };
}

const baseline = PROTOTYPES.map(([, target]) => snapshot(target));

// Checked after every input, cheaply: pollution by assignment adds an enumerable property, which for-in
// on an instance sees; overwriting a built-in method shows on the data properties of Object and Array
// prototypes (the targets of a merge through __proto__ or constructor.prototype). The full check covers
// everything, every 1,000 inputs and at the end.
const PROBES: readonly object[] = [
  {},
  [],
  new Map(),
  new Set(),
  () => {},
  new String(''),
  new Number(0),
  new Date(0),
  /x/,
  new Error('x'),
  Promise.resolve(),
  new URL('http://x/'),
  new Uint8Array(0),
  Buffer.alloc(0),
];
const WATCHED: ReadonlyArray<readonly [object, string | symbol, unknown]> = [Object.prototype, Array.prototype].flatMap(
  (target) =>
    Reflect.ownKeys(target).flatMap((k) => {
      const descriptor = Object.getOwnPropertyDescriptor(target, k) as PropertyDescriptor;
      return 'value' in descriptor ? [[target, k, descriptor.value] as const] : [];
    }),
);

function enumerableCount(probe: object): number {
  let count = 0;
  for (const _ in probe) count++;
  return count;
}
// Some built-ins have enumerable members of their own (URL's accessors).
const PROBE_COUNTS = PROBES.map(enumerableCount);

function quickCheck(): string | undefined {
  for (let i = 0; i < PROBES.length; i++) {
    if (enumerableCount(PROBES[i]) !== PROBE_COUNTS[i])
      return `${Object.prototype.toString.call(PROBES[i])} inherits a new enumerable property`;
  }
  for (const [target, k, before] of WATCHED) {
    if ((target as Record<string | symbol, unknown>)[k] !== before)
      return `${target === Object.prototype ? 'Object' : 'Array'}.prototype.${String(k)} changed`;
  }
  if (Object.getPrototypeOf(Object.prototype) !== null || Object.getPrototypeOf(Array.prototype) !== Object.prototype)
    return 'a prototype chain changed';
  return undefined;
}

/** Full check (every 1,000 inputs and at the end): every own property is the very same as before. */
function fullCheck(): string | undefined {
  for (let i = 0; i < PROTOTYPES.length; i++) {
    const [name, target] = PROTOTYPES[i];
    const now = snapshot(target);
    if (now.proto !== baseline[i].proto || now.keys.length !== baseline[i].keys.length)
      return `${name}.prototype changed shape`;
    for (const [key, before] of baseline[i].descriptors) {
      const after = now.descriptors.get(key);
      if (
        !after ||
        after.value !== before.value ||
        after.get !== before.get ||
        after.set !== before.set ||
        after.writable !== before.writable
      ) {
        return `${name}.prototype.${String(key)} changed`;
      }
    }
  }
  return undefined;
}

// ---- generated messages -------------------------------------------------------------------------------------------

/** A JSON value as text; raw number texts (1e400) stay as written, so JSON.parse makes of them what it makes. */
type Json = { readonly text: string };
const text = (value: string): Json => ({ text: value });
const str = (value: string): Json => text(JSON.stringify(value));

const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  '$t',
  'v',
  '$obj',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  '__lookupSetter__',
  'length',
  'then',
  '',
];
const TAGS = [
  'Map',
  'Set',
  'Date',
  'BigInt',
  'Buffer',
  'Uint8Array',
  'URL',
  'Number',
  'undefined',
  '$obj',
  'taskq.request',
  'Pairs',
  'Later',
  'Nope',
  '__proto__',
  'constructor',
  'toString',
  '',
];
const NUMBER_TEXTS = [
  '0',
  '-0',
  '1e400',
  '-1e400',
  '5e-324',
  '1.7976931348623157e308',
  '9007199254740993',
  '123456789012345678901234567890',
  '0.1e-400',
  '-1',
  '3.14',
];
const PROTO_BASE64 = Buffer.from('__proto__').toString('base64');

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_KEYS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
);
const primitive: fc.Arbitrary<Json> = fc.oneof(
  fc
    .constantFrom(
      ...HOSTILE_KEYS,
      'NaN',
      'Infinity',
      '-0',
      '2020-01-01T00:00:00.000Z',
      'http://x/',
      'javascript:alert(1)',
      '12',
      '-007',
      PROTO_BASE64,
      'not base64!',
    )
    .map(str),
  fc.string({ maxLength: 8 }).map(str),
  fc.constantFrom(...NUMBER_TEXTS).map(text),
  fc.integer().map((n) => text(String(n))),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => text(JSON.stringify(n))),
  fc.constantFrom('true', 'false', 'null').map(text),
);

const array = (items: readonly Json[]): Json => text(`[${items.map((item) => item.text).join(',')}]`);
const object = (entries: ReadonlyArray<readonly [string, Json]>): Json =>
  text(`{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v.text}`).join(',')}}`);
const tagged = (tag: string, data: Json): Json =>
  object([
    ['$t', str(tag)],
    ['v', data],
  ]);

const { value } = fc.letrec<{ value: Json; codecValue: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: primitive },
    { weight: 2, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map(array) },
    { weight: 2, arbitrary: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map(object) },
    { weight: 3, arbitrary: tie('codecValue') },
  ),
  codecValue: fc.oneof(
    { depthSize: 'small' },
    // Near-valid data for each built-in, hostile keys in Map pairs (also as arrays and Buffers).
    fc
      .array(
        fc
          .tuple(
            fc.oneof(
              key.map(str),
              key.map((k) => array([str(k)])),
              fc.constant(tagged('Buffer', str(PROTO_BASE64))),
              tie('value'),
            ),
            tie('value'),
          )
          .map(([k, v]) => array([k, v])),
        { maxLength: 3 },
      )
      .map((pairs) => tagged('Map', array(pairs))),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => tagged('Set', array(items))),
    fc
      .array(
        fc.tuple(key, tie('value')).map(([k, v]) => array([str(k), v])),
        { maxLength: 3 },
      )
      .map((pairs) => tagged('Pairs', array(pairs))),
    fc.tuple(fc.constantFrom(...TAGS), tie('value')).map(([tag, data]) => tagged(tag, data)),
    fc
      .array(fc.tuple(key, tie('value')), { maxLength: 3 })
      .map((entries) => tagged('$obj', object([['$t', str('x')], ...entries]))),
    // Malformed wrappers: extra keys, a missing "v", a "$t" that is not a string.
    fc.tuple(fc.constantFrom(...TAGS), key, tie('value')).map(([tag, extra, data]) =>
      object([
        ['$t', str(tag)],
        ['v', data],
        [extra, data],
      ]),
    ),
    fc.tuple(fc.constantFrom(...TAGS), primitive).map(([tag, data]) =>
      object([
        ['$t', data],
        ['w', str(tag)],
      ]),
    ),
  ),
}));

/**
 * Nesting around the depth limit (100), with containers and codec values mixed; built as prefix and suffix, not by
 * re-copying the inner text.
 */
const deep: fc.Arbitrary<Json> = fc
  .tuple(
    fc.integer({ min: 90, max: 130 }),
    fc.array(fc.constantFrom('array', 'object', 'set', 'map', '$obj', 'later'), { minLength: 1, maxLength: 6 }),
    key,
  )
  .map(([depth, kinds, k]) => {
    const name = JSON.stringify(k);
    const open: string[] = [];
    const close: string[] = [];
    for (let i = 0; i < depth; i++) {
      const kind = kinds[i % kinds.length];
      if (kind === 'array') open.push('[');
      else if (kind === 'object') open.push(`{${name}:`);
      else if (kind === 'set') open.push('{"$t":"Set","v":[');
      else if (kind === 'map') open.push(`{"$t":"Map","v":[[${name},`);
      else if (kind === 'later') open.push('{"$t":"Later","v":');
      else open.push(`{"$t":"$obj","v":{"$t":"x",${name}:`);
      close.push(
        kind === 'array'
          ? ']'
          : kind === 'object' || kind === 'later'
            ? '}'
            : kind === 'set'
              ? ']}'
              : kind === 'map'
                ? ']]}'
                : '}}',
      );
    }
    return text(`${open.join('')}"bottom"${close.reverse().join('')}`);
  });

const message = fc.oneof(
  { weight: 49, arbitrary: fc.array(value, { maxLength: 3 }).map(array) },
  { weight: 1, arbitrary: deep.map((d) => array([d])) },
);

// ---- what a task does with its arguments --------------------------------------------------------------------------

/**
 * Object.fromEntries for every Map, spread for every object: the shapes a task's own code builds from its arguments.
 */
function toPlain(input: unknown, depth = 0): unknown {
  if (typeof input !== 'object' || input === null || depth > 200) return input;
  if (input instanceof Map) return Object.fromEntries([...input].map(([k, v]) => [k, toPlain(v, depth + 1)]));
  if (input instanceof Set) return [...input].map((v) => toPlain(v, depth + 1));
  if (Array.isArray(input)) return input.map((v) => toPlain(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(input))
    Object.defineProperty(out, k, {
      value: toPlain((input as Record<string, unknown>)[k], depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/** The naive deep merge of the report: it follows `__proto__` and `constructor.prototype` if they are there. */
function naiveMerge(target: Record<string, unknown>, source: unknown, depth = 0): void {
  if (typeof source !== 'object' || source === null || depth > 200) return;
  for (const k of Object.keys(source)) {
    const v = (source as Record<string, unknown>)[k];
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      if (typeof target[k] !== 'object' || target[k] === null) target[k] = {};
      naiveMerge(target[k] as Record<string, unknown>, v, depth + 1);
    } else target[k] = v;
  }
}

describe('decoder fuzz', () => {
  it(`${RUNS.toLocaleString('en')} generated messages: only DecodeErrors, no prototype change (also after a task merges the result), no hang`, async () => {
    const outcomes = { decoded: 0, refused: 0 };
    let slowest = 0;
    let runs = 0;
    const started = performance.now();
    // Refusals are most of the inputs, and capturing their stack traces most of their cost; the property needs none.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      await fc.assert(
        fc.asyncProperty(message, async (input) => {
          const parsed: unknown = JSON.parse(input.text);
          const t0 = performance.now();
          let decoded: unknown[] | undefined;
          try {
            decoded = await decodeArgs(parsed, codecs);
            outcomes.decoded++;
          } catch (error) {
            if (!(error instanceof DecodeError))
              throw new Error(`threw ${String(error)} (not a DecodeError)`, { cause: error });
            outcomes.refused++;
          }
          const elapsed = performance.now() - t0;
          slowest = Math.max(slowest, elapsed);
          if (elapsed > HANG_MS) throw new Error(`took ${Math.round(elapsed)} ms: no input may hang the decoder`);
          if (decoded !== undefined) {
            try {
              naiveMerge({}, toPlain(decoded));
            } catch {
              // The task's own code may throw (Object.fromEntries on a key whose toString is not callable); only
              // pollution matters.
            }
          }
          const changed = quickCheck() ?? (++runs % 1000 === 0 ? fullCheck() : undefined);
          if (changed !== undefined) throw new Error(`prototype changed: ${changed}`);
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true },
      );
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `[decoder fuzz] inputs=${RUNS} decoded=${outcomes.decoded} refused (DecodeError)=${outcomes.refused} other throws=0 prototypes changed=no ` +
        `total=${seconds.toFixed(1)} s slowest input=${slowest.toFixed(1)} ms`,
    );
    expect(fullCheck()).toBeUndefined();
    expect(outcomes.decoded + outcomes.refused).toBe(RUNS);
    // Both branches must be exercised, or the generator says nothing.
    expect(outcomes.decoded).toBeGreaterThan(RUNS / 20);
    expect(outcomes.refused).toBeGreaterThan(RUNS / 20);
  }, 300_000);
});
