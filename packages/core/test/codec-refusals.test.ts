import { describe, expect, it } from 'vitest';
import { CodecSet } from '../src/codecs/codec-set.js';
import { encodeArgs } from '../src/codecs/encode.js';
import type { Codec } from '../src/codecs/types.js';
import { UnserializableArgumentError } from '../src/errors.js';

const codecs = new CodecSet();

/** Runs a synchronous encode that must refuse, and returns the error. */
function refusal(args: unknown[], set: CodecSet = codecs): UnserializableArgumentError {
  try {
    encodeArgs(args, set);
  } catch (error) {
    expect(error).toBeInstanceOf(UnserializableArgumentError);
    expect((error as UnserializableArgumentError).code).toBe('TASKQ_UNSERIALIZABLE_ARGUMENT');
    return error as UnserializableArgumentError;
  }
  throw new Error('expected encodeArgs to throw');
}

function expectRefusal(args: unknown[], path: string, message: RegExp, set?: CodecSet): UnserializableArgumentError {
  const error = refusal(args, set);
  expect(error.path).toBe(path);
  expect(error.message.startsWith(`${path}: `)).toBe(true);
  expect(error.message).toMatch(message);
  return error;
}

class Money {
  constructor(readonly cents: number) {}
}

describe('encodeArgs refuses', () => {
  it('a function, naming it and its path', () => {
    function makeUser() {}
    const args = [{ owner: { name: 'a', createdBy: makeUser } }];
    expectRefusal(args, 'args[0].owner.createdBy', /function makeUser cannot be sent/);
    expectRefusal([1, () => 1], 'args[1]', /anonymous function/);
  });

  it('a symbol, with array indices and quoted keys in the path', () => {
    expectRefusal([1, [0, 1, 2, Symbol('tag')]], 'args[1][3]', /Symbol\(tag\) cannot be sent/);
    expectRefusal([{ 'weird key': Symbol() }], 'args[0]["weird key"]', /symbol/i);
  });

  it('values inside Maps and Sets, with a readable path', () => {
    expectRefusal([new Map([[Symbol('k'), 1]])], 'args[0].<Map key #0>', /Symbol\(k\)/);
    expectRefusal(
      [
        {
          m: new Map<string, unknown>([
            ['a', 1],
            ['b', { f: () => 1 }],
          ]),
        },
      ],
      'args[0].m.<Map value #1>.f',
      /function/,
    );
    expectRefusal([new Set([1, Symbol('s')])], 'args[0].<Set item #1>', /Symbol\(s\)/);
  });

  it('a cycle, saying where it points back to', () => {
    const root: Record<string, unknown> = { child: {} };
    (root.child as Record<string, unknown>).parent = root;
    const error = expectRefusal([1, root], 'args[1].child.parent', /circular reference back to args\[1\]/);
    expect(error.message).toMatch(/cycles cannot be sent/);

    const list: unknown[] = [1];
    list.push({ list });
    expectRefusal([list], 'args[0][1].list', /circular reference back to args\[0\]/);
  });

  it('a cycle through codec data', () => {
    const map = new Map<string, unknown>();
    map.set('self', map);
    expectRefusal([map], 'args[0].<Map value #0>', /circular reference back to args\[0\]/);
  });

  it('a class instance without a codec, naming the class', () => {
    class User {
      name = 'ann';
    }
    expectRefusal(
      [{ user: new User() }],
      'args[0].user',
      /^args\[0\]\.user: class User has no codec; register one with the codecs option or pass a plain object$/,
    );
    expectRefusal([new (class {})()], 'args[0]', /anonymous class has no codec/);
    expectRefusal([/re/], 'args[0]', /class RegExp has no codec/);
  });

  it('a Promise, a WeakMap and a WeakSet', () => {
    expectRefusal([{ pending: Promise.resolve(1) }], 'args[0].pending', /Promise cannot be sent; await it/);
    expectRefusal([new WeakMap()], 'args[0]', /WeakMap cannot be sent/);
    expectRefusal([[new WeakSet()]], 'args[0][0]', /WeakSet cannot be sent/);
  });

  it('symbol-keyed properties', () => {
    expectRefusal([{ a: { [Symbol('secret')]: 1 } }], 'args[0].a', /symbol-keyed property \[Symbol\(secret\)\]/);
  });

  it('a constructor.prototype key pair, which workers would refuse', () => {
    expectRefusal(
      [{ data: { constructor: { prototype: { x: 1 } } } }],
      'args[0].data',
      /"constructor" object with a "prototype" key/,
    );
  });

  it('an own __proto__ key, which workers would refuse', () => {
    const parsed: unknown = JSON.parse('{"ok":{"__proto__":{"x":1}}}');
    expectRefusal([parsed], 'args[0].ok', /"__proto__"/);
  });

  it('a Map key that workers would refuse (__proto__, also as an array; constructor holding prototype)', () => {
    expectRefusal(
      [new Map([['__proto__', { x: 1 }]])],
      'args[0]',
      /codec "Map" failed to encode it: entry #0: refused the key "__proto__".*workers refuse it/,
    );
    expectRefusal(
      [
        {
          m: new Map<unknown, unknown>([
            ['a', 1],
            [['__proto__'], 2],
          ]),
        },
      ],
      'args[0].m',
      /entry #1: refused the key "__proto__"/,
    );
    expectRefusal(
      [new Map([['constructor', { prototype: {} }]])],
      'args[0]',
      /entry #0: refused a "constructor" key holding a "prototype" key/,
    );
    expectRefusal(
      [{ constructor: new Map([['prototype', 1]]) }],
      'args[0]',
      /"constructor" object with a "prototype" key/,
    );
  });

  it('nesting deeper than 100 levels, without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 150; i++) deep = { next: deep };
    const error = refusal([deep]);
    expect(error.message).toMatch(/nested deeper than 100 levels/);
    expect(error.path).toMatch(/^args\[0\](\.next){100}$/);

    let huge: unknown = [];
    for (let i = 0; i < 100_000; i++) huge = [huge];
    expect(refusal([huge]).message).toMatch(/deeper than 100/);
  });

  it('a codec whose encode never terminates in plain data', () => {
    const runaway: Codec<Money, Money> = {
      name: 'Runaway',
      test: (value) => value instanceof Money,
      encode: (money) => new Money(money.cents + 1),
      decode: (money) => money,
    };
    expect(refusal([new Money(0)], new CodecSet([runaway])).message).toMatch(/deeper than 100/);
  });

  it('a value whose codec encode throws, keeping the cause', () => {
    const cause = new Error('no currency');
    const failing: Codec<Money, never> = {
      name: 'Money',
      test: (value) => value instanceof Money,
      encode: () => {
        throw cause;
      },
      decode: () => new Money(0),
    };
    const error = expectRefusal(
      [{ price: new Money(1) }],
      'args[0].price',
      /codec "Money" failed to encode it: no currency/,
      new CodecSet([failing]),
    );
    expect(error.cause).toBe(cause);
  });

  it('a value whose codec test throws', () => {
    const cause = new Error('boom');
    const failing: Codec = {
      name: 'Picky',
      test: () => {
        throw cause;
      },
      encode: (value) => value,
      decode: (value) => value,
    };
    const error = expectRefusal(
      [[new Money(1)]],
      'args[0][0]',
      /test of codec "Picky" threw: boom/,
      new CodecSet([failing]),
    );
    expect(error.cause).toBe(cause);
  });

  it('names the path inside user codec data', () => {
    const leaky: Codec<Money, unknown> = {
      name: 'Leaky',
      test: (value) => value instanceof Money,
      encode: (money) => ({ cents: money.cents, format: () => '' }),
      decode: (data) => data as Money,
    };
    expectRefusal([new Money(1)], 'args[0].<Leaky data>.format', /function format/, new CodecSet([leaky]));
  });

  it('an async encode that rejects, as a rejection with the path and cause', async () => {
    const cause = new Error('db down');
    const failing: Codec<Money, unknown> = {
      name: 'Money',
      test: (value) => value instanceof Money,
      encode: async () => {
        throw cause;
      },
      decode: (data) => data as Money,
    };
    const result = encodeArgs([1, { price: new Money(1) }], new CodecSet([failing]));
    expect(result).toBeInstanceOf(Promise);
    const error = await (result as Promise<unknown>).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(UnserializableArgumentError);
    expect((error as UnserializableArgumentError).path).toBe('args[1].price');
    expect((error as Error).cause).toBe(cause);
  });

  it('synchronously even when an earlier async encode is pending, without an unhandled rejection', async () => {
    const failing: Codec<Money, unknown> = {
      name: 'Money',
      test: (value) => value instanceof Money,
      encode: () => Promise.reject(new Error('later')),
      decode: (data) => data as Money,
    };
    expectRefusal([new Money(1), Symbol('x')], 'args[1]', /Symbol/, new CodecSet([failing]));
    // Give an unhandled rejection the chance to surface (vitest fails the run on one).
    await new Promise((resolve) => setTimeout(resolve, 10));
  });
});

describe('encodeArgs accepts', () => {
  it('shared references that are not cycles', () => {
    const shared = { a: 1 };
    expect(encodeArgs([[shared, shared], { x: shared }], codecs)).toEqual([[shared, shared], { x: shared }]);
  });
});

describe('CodecSet refuses invalid codecs', () => {
  const valid = (name: string): Codec => ({ name, test: () => false, encode: (v) => v, decode: (v) => v });

  function expectInvalid(userCodecs: unknown, message: RegExp): void {
    try {
      new CodecSet(userCodecs as Codec[]);
    } catch (error) {
      expect((error as { code?: unknown }).code).toBe('TASKQ_INVALID_OPTION');
      expect((error as Error).message).toMatch(/^option "codecs": /);
      expect((error as Error).message).toMatch(message);
      return;
    }
    throw new Error('expected new CodecSet to throw');
  }

  it('duplicate names', () => {
    expectInvalid(
      [valid('Money'), valid('Other'), valid('Money')],
      /codecs\[2\] \("Money"\): the name is already used by codecs\[0\]/,
    );
  });

  it('names of built-in codecs', () => {
    expectInvalid([valid('Date')], /codecs\[0\] \("Date"\): the name is taken by a built-in codec/);
  });

  it('names starting with $', () => {
    expectInvalid([valid('$obj')], /codecs\[0\] \("\$obj"\): names starting with "\$" are reserved/);
  });

  it('missing or empty names', () => {
    expectInvalid(
      [{ test: () => true, encode: () => 1, decode: () => 1 }],
      /codecs\[0\]: "name" must be a non-empty string/,
    );
    expectInvalid([valid('')], /codecs\[0\]: "name" must be a non-empty string/);
  });

  it('missing functions', () => {
    expectInvalid(
      [valid('A'), { name: 'Money', test: () => true, encode: () => 1 }],
      /codecs\[1\] \("Money"\): "decode" must be a function, got undefined/,
    );
    expectInvalid(
      [{ name: 'Money', test: true, encode: () => 1, decode: () => 1 }],
      /"test" must be a function, got boolean/,
    );
  });

  it('something that is not a codec or not a list', () => {
    expectInvalid([null], /codecs\[0\]: expected a codec object, got null/);
    expectInvalid(valid('A'), /expected an array of codecs/);
  });

  it('invalid codecs added with extend', () => {
    expect(() => new CodecSet([valid('A')]).extend([valid('A')])).toThrow(/already used/);
  });
});
