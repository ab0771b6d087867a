import { afterEach, describe, expect, it } from 'vitest';
import { CodecSet } from '../src/codecs/codec-set.js';
import { decodeArgs } from '../src/codecs/decode.js';
import type { Codec } from '../src/codecs/types.js';
import { DecodeError } from '../src/errors.js';

const codecs = new CodecSet();

async function decodeError(data: unknown, set: CodecSet = codecs): Promise<DecodeError> {
  const error = await decodeArgs(data, set).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DecodeError);
  expect((error as DecodeError).code).toBe('TASKQ_DECODE_FAILED');
  return error as DecodeError;
}

async function expectDecodeError(json: string, message: string | RegExp, set?: CodecSet): Promise<DecodeError> {
  const error = await decodeError(JSON.parse(json), set);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
  return error;
}

afterEach(() => {
  // No input may leave anything behind on the shared prototypes.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toHaveLength(0);
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  expect(Object.getOwnPropertyNames(Array.prototype)).not.toContain('polluted');
});

describe('decodeArgs refuses', () => {
  it('data that is not an array', async () => {
    for (const data of [{}, null, undefined, 'args', 1, { 0: 'a', length: 1 }]) {
      expect((await decodeError(data)).message).toMatch(/^args: expected an array of arguments/);
    }
  });

  it('a __proto__ key anywhere', async () => {
    await expectDecodeError('[{"__proto__":{"polluted":1}}]', /^args\[0\]: refused the key "__proto__"/);
    await expectDecodeError(
      '[1, {"a":[{"ok":1,"__proto__":{"polluted":1}}]}]',
      /^args\[1\]\.a\[0\]: refused the key "__proto__"/,
    );
    // Inside an escaped object and inside codec data.
    await expectDecodeError(
      '[{"$t":"$obj","v":{"$t":1,"__proto__":{"polluted":1}}}]',
      /^args\[0\]: refused the key "__proto__"/,
    );
    await expectDecodeError(
      '[{"$t":"Map","v":[["k",{"__proto__":{"polluted":1}}]]}]',
      /^args\[0\]\.<Map value #0>: refused/,
    );
    await expectDecodeError('[{"$t":"Set","v":[{"__proto__":[]}]}]', /^args\[0\]\.<Set item #0>: refused/);
    // On a tagged value itself.
    await expectDecodeError(
      '[{"$t":"Date","v":null,"__proto__":{"polluted":1}}]',
      /^args\[0\]: malformed tagged value/,
    );
  });

  it('unknown codec tags, also names of Object.prototype members', async () => {
    await expectDecodeError('[{"x":{"$t":"Foo","v":1}}]', /^args\[0\]\.x: unknown codec tag "Foo"/);
    for (const tag of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '$other', '']) {
      const error = await decodeError([{ $t: tag, v: null }]);
      expect(error.message).toMatch(`args[0]: unknown codec tag ${JSON.stringify(tag)}`);
    }
  });

  it('malformed tagged values', async () => {
    const cases: [string, RegExp][] = [
      ['[{"$t":5,"v":1}]', /^args\[0\]: malformed tagged value: "\$t" must be a string, got number/],
      ['[{"$t":"Date"}]', /^args\[0\]: malformed tagged value "Date": expected exactly the keys "\$t" and "v"/],
      ['[{"$t":"Date","v":"2020-01-01T00:00:00.000Z","x":1}]', /malformed tagged value "Date"/],
      [
        '[{"$t":"Date","v":5}]',
        /^args\[0\]: codec "Date" could not decode its data: expected an ISO date string or null, got number/,
      ],
      ['[{"$t":"Date","v":"yesterday"}]', /codec "Date" could not decode its data: invalid date string/],
      ['[{"$t":"BigInt","v":"12abc"}]', /codec "BigInt" could not decode its data: expected a decimal integer string/],
      ['[{"$t":"BigInt","v":12}]', /codec "BigInt"/],
      ['[{"$t":"Number","v":"5"}]', /codec "Number" could not decode its data/],
      ['[{"$t":"undefined","v":0}]', /codec "undefined" could not decode its data: expected null/],
      [
        '[{"$t":"Map","v":{"a":1}}]',
        /codec "Map" could not decode its data: expected an array of \[key, value\] pairs, got object/,
      ],
      [
        '[{"$t":"Map","v":[[1,2,3]]}]',
        /codec "Map" could not decode its data: entry #0: expected a \[key, value\] pair/,
      ],
      ['[{"$t":"Set","v":"abc"}]', /codec "Set" could not decode its data: expected an array/],
      ['[{"$t":"Buffer","v":"not base64!"}]', /codec "Buffer" could not decode its data: expected a base64 string/],
      [
        '[{"$t":"Uint8Array","v":[1,2]}]',
        /codec "Uint8Array" could not decode its data: expected a base64 string, got array/,
      ],
      ['[{"$t":"URL","v":"not a url"}]', /codec "URL" could not decode its data/],
      ['[{"$t":"$obj","v":[1]}]', /^args\[0\]: malformed escaped object: "v" must be an object, got array/],
      ['[{"$t":"$obj","v":null}]', /malformed escaped object/],
    ];
    for (const [json, message] of cases) {
      const error = await expectDecodeError(json, message);
      expect(error.message.startsWith('args[0]')).toBe(true);
    }
  });

  it('values that are not JSON data (in-memory input)', async () => {
    expect((await decodeError([1, { f: () => 1 }])).message).toMatch(/^args\[1\]\.f: unexpected function/);
    expect((await decodeError([undefined])).message).toMatch(/^args\[0\]: unexpected undefined/);
    expect((await decodeError([Number.NaN])).message).toMatch(/^args\[0\]: NaN is not JSON data/);
    expect((await decodeError([[new Date()]])).message).toMatch(/^args\[0\]\[0\]: unexpected instance of Date/);
    expect((await decodeError([{ $t: 'Date', v: new Date() }])).message).toMatch(
      /^args\[0\]\.<Date data>: unexpected instance of Date/,
    );
  });

  it('deep nesting (10,000 levels) with a DecodeError, not a stack overflow', async () => {
    const depth = 10_000;
    await expectDecodeError(
      `[${'['.repeat(depth)}${']'.repeat(depth)}]`,
      /^args\[0\](\[0\]){100}: nested deeper than 100 levels$/,
    );
    await expectDecodeError(`[${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]`, /nested deeper than 100 levels/);
    await expectDecodeError(
      `[${'{"$t":"Set","v":['.repeat(depth)}${']}'.repeat(depth)}]`,
      /nested deeper than 100 levels/,
    );
    await expectDecodeError(
      `[${'{"$t":"$obj","v":{"$t":'.repeat(depth)}1${'}}'.repeat(depth)}]`,
      /nested deeper than 100 levels/,
    );
  });

  it('cyclic in-memory input', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect((await decodeError([cyclic])).message).toMatch(/nested deeper than 100 levels/);
  });

  it('a codec decode that throws or rejects, with the path and the cause', async () => {
    const cause = new Error('row 7 not found');
    const throwing: Codec = {
      name: 'Sync',
      test: () => false,
      encode: (v) => v,
      decode: () => {
        throw cause;
      },
    };
    const rejecting: Codec = {
      name: 'Async',
      test: () => false,
      encode: (v) => v,
      decode: async () => {
        throw cause;
      },
    };
    const set = new CodecSet([throwing, rejecting]);

    let error = await expectDecodeError(
      '[{"a":{"$t":"Sync","v":1}}]',
      'args[0].a: codec "Sync" could not decode its data: row 7 not found',
      set,
    );
    expect(error.cause).toBe(cause);
    error = await expectDecodeError(
      '[1,{"$t":"Map","v":[["k",{"$t":"Async","v":1}]]}]',
      /^args\[1\]\.<Map value #0>: codec "Async" could not decode its data: row 7 not found$/,
      set,
    );
    expect(error.cause).toBe(cause);
    // A failing sibling while another async decode is still pending.
    error = await expectDecodeError('[{"$t":"Async","v":1},{"$t":"Sync","v":1}]', /^args\[1\]: codec "Sync"/, set);
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});

describe('decodeArgs applies one key rule to every structure', () => {
  it('keeps constructor and prototype keys as plain data, unless a constructor holds a prototype key', async () => {
    const json =
      '[{"constructor":{"name":"x"},"prototype":{"polluted":1}},{"prototype":{"polluted":1},"toString":1,"hasOwnProperty":2}]';
    const [first, second] = (await decodeArgs(JSON.parse(json), codecs)) as Record<string, unknown>[];
    expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
    expect(Object.hasOwn(first, 'constructor')).toBe(true);
    expect(first.constructor).toEqual({ name: 'x' });
    expect(Object.hasOwn(second, 'prototype')).toBe(true);
    expect(second.toString).toBe(1);
    expect(second.hasOwnProperty).toBe(2);
    expect(Object.getPrototypeOf(second)).toBe(Object.prototype);
    await expectDecodeError(
      '[{"a":{"constructor":{"prototype":{"polluted":1}}}}]',
      /^args\[0\]\.a: refused a "constructor" key holding a "prototype" key/,
    );
    await expectDecodeError(
      '[{"$t":"$obj","v":{"$t":"x","constructor":{"prototype":{"polluted":1}}}}]',
      /^args\[0\]: refused a "constructor" key/,
    );
    // A constructor holding a Map with a prototype key is the same shape after Object.fromEntries.
    await expectDecodeError(
      '[{"constructor":{"$t":"Map","v":[["prototype",{"polluted":1}]]}}]',
      /^args\[0\]: refused a "constructor" key/,
    );
  });

  it('refuses Map keys that Object.fromEntries would turn into __proto__ or constructor.prototype', async () => {
    const cases: [string, RegExp][] = [
      [
        '[{"$t":"Map","v":[["__proto__",{"polluted":1}]]}]',
        /^args\[0\]: codec "Map" could not decode its data: entry #0: refused the key "__proto__"/,
      ],
      ['[{"$t":"Map","v":[["a",1],["__proto__",{"polluted":1}]]}]', /entry #1: refused the key "__proto__"/],
      // String(["__proto__"]) and String(Buffer) are "__proto__" too.
      ['[{"$t":"Map","v":[[["__proto__"],{"polluted":1}]]}]', /entry #0: refused the key "__proto__"/],
      ['[{"$t":"Map","v":[[[["__proto__"]],{"polluted":1}]]}]', /entry #0: refused the key "__proto__"/],
      [
        '[{"$t":"Map","v":[[{"$t":"Buffer","v":"X19wcm90b19f"},{"polluted":1}]]}]',
        /entry #0: refused the key "__proto__"/,
      ],
      [
        '[{"$t":"Map","v":[["constructor",{"prototype":{"polluted":1}}]]}]',
        /entry #0: refused a "constructor" key holding a "prototype" key/,
      ],
      [
        '[{"$t":"Map","v":[["constructor",{"$t":"Map","v":[["prototype",{"polluted":1}]]}]]}]',
        /entry #0: refused a "constructor" key/,
      ],
      [
        '[{"x":[{"$t":"Set","v":[{"$t":"Map","v":[["__proto__",1]]}]}]}]',
        /^args\[0\]\.x\[0\]\.<Set item #0>: codec "Map" could not decode its data: entry #0: refused the key "__proto__"/,
      ],
    ];
    for (const [json, message] of cases) await expectDecodeError(json, message);
    // The same keys, harmless, decode.
    const [map] = (await decodeArgs(
      JSON.parse('[{"$t":"Map","v":[["proto",1],["constructor",{"name":"x"}],[["a","b"],2],[{"k":1},3]]}]'),
      codecs,
    )) as [Map<unknown, unknown>];
    expect(map.get('proto')).toBe(1);
    expect(map.get('constructor')).toEqual({ name: 'x' });
    expect(map.size).toBe(4);
  });

  it('refuses a hostile key in what any codec returns, sync or async, however deep', async () => {
    // A user codec that builds an object from pairs: its output is checked like a plain object.
    const fromPairs: Codec = {
      name: 'Pairs',
      test: () => false,
      encode: (v) => v,
      decode: (data) => Object.fromEntries(data as [string, unknown][]),
    };
    const nested: Codec = {
      name: 'Nested',
      test: () => false,
      encode: (v) => v,
      decode: async (data) => ({ outer: { inner: Object.fromEntries(data as [string, unknown][]) } }),
    };
    class Holder {
      constructor(readonly content: unknown) {}
    }
    const holder: Codec = {
      name: 'Holder',
      test: () => false,
      encode: (v) => v,
      decode: (data) => new Holder(new Map(data as [unknown, unknown][])),
    };
    const set = new CodecSet([fromPairs, nested, holder]);
    await expectDecodeError(
      '[{"$t":"Pairs","v":[["__proto__",{"polluted":1}]]}]',
      /^args\[0\]: codec "Pairs" produced a value with a hostile key: refused the key "__proto__"/,
      set,
    );
    await expectDecodeError(
      '[{"$t":"Pairs","v":[["constructor",{"prototype":{"polluted":1}}]]}]',
      /codec "Pairs" produced a value with a hostile key: refused a "constructor" key/,
      set,
    );
    await expectDecodeError(
      '[1,{"$t":"Nested","v":[["__proto__",1]]}]',
      /^args\[1\]: codec "Nested" produced a value with a hostile key: refused the key "__proto__"/,
      set,
    );
    await expectDecodeError(
      '[{"$t":"Holder","v":[["__proto__",1]]}]',
      /^args\[0\]: codec "Holder" produced a value with a hostile key: Map key #0: refused the key "__proto__"/,
      set,
    );
    const [ok] = (await decodeArgs(JSON.parse('[{"$t":"Pairs","v":[["a",1],["prototype",2]]}]'), set)) as [
      Record<string, unknown>,
    ];
    expect(ok).toEqual({ a: 1, prototype: 2 });
  });

  it('a task merging a decoded Map cannot pollute Object.prototype (the reported attack)', async () => {
    const merge = (target: Record<string, unknown>, source: Record<string, unknown>): void => {
      for (const key of Object.keys(source)) {
        const value = source[key];
        if (typeof value === 'object' && value !== null) {
          if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
          merge(target[key] as Record<string, unknown>, value as Record<string, unknown>);
        } else target[key] = value;
      }
    };
    const error = await decodeArgs(JSON.parse('[{"$t":"Map","v":[["__proto__",{"polluted":1}]]}]'), codecs).then(
      (args) => {
        merge({}, Object.fromEntries(args[0] as Map<string, unknown>));
        return undefined;
      },
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(DecodeError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes arrays to arrays and objects to ordinary objects', async () => {
    const [list, object] = (await decodeArgs(JSON.parse('[[1,2],{"a":[]}]'), codecs)) as [unknown, unknown];
    expect(Array.isArray(list)).toBe(true);
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
  });
});
