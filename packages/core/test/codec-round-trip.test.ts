import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { builtinCodecs } from '../src/codecs/builtin.js';
import { CodecSet } from '../src/codecs/codec-set.js';
import { decodeArgs } from '../src/codecs/decode.js';
import { encodeArgs } from '../src/codecs/encode.js';
import type { Codec } from '../src/codecs/types.js';

const codecs = new CodecSet();

/** Encodes, sends through JSON text as a transport would, decodes. */
async function roundTrip(args: unknown[], set: CodecSet = codecs): Promise<unknown[]> {
  const encoded = await encodeArgs(args, set);
  return decodeArgs(JSON.parse(JSON.stringify(encoded)), set);
}

async function roundTripOne<T>(value: T, set: CodecSet = codecs): Promise<T> {
  const [decoded] = await roundTrip([value], set);
  return decoded as T;
}

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
}

const moneyCodec: Codec<Money, { cents: bigint; currency: string }> = {
  name: 'Money',
  test: (value) => value instanceof Money,
  // Returns a bigint on purpose: codec data is encoded recursively.
  encode: (money) => ({ cents: money.cents, currency: money.currency }),
  decode: (data) => new Money(data.cents, data.currency),
};

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JSON values', () => {
  it('pass through unchanged and synchronously', () => {
    const args = ['text', 1.5, 0, -3, true, false, null, [1, 'a', [null]], { a: 1, b: { c: 'd' } }];
    const encoded = encodeArgs(args, codecs);
    expect(Array.isArray(encoded)).toBe(true);
    expect(encoded).toEqual(args);
  });

  it('round-trip', async () => {
    const args = ['text', 1.5, true, null, [1, [2, [3]]], { nested: { list: [{ x: 'y' }] } }];
    expect(await roundTrip(args)).toEqual(args);
  });

  it('decode plain objects to ordinary objects, also null-prototype ones', async () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const [decoded] = await roundTrip([bare]);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded).toEqual({ a: 1 });
  });

  it('encode shared (non-cyclic) references twice', async () => {
    const shared = { id: 7 };
    const [decoded] = (await roundTrip([{ a: shared, b: shared }])) as [{ a: unknown; b: unknown }];
    expect(decoded.a).toEqual(shared);
    expect(decoded.b).toEqual(shared);
    expect(decoded.a).not.toBe(decoded.b);
  });
});

describe('built-in codecs', () => {
  it('are all exported in builtinCodecs', () => {
    expect(builtinCodecs.map((codec) => codec.name).sort()).toEqual(
      ['BigInt', 'Buffer', 'Date', 'Map', 'Number', 'Set', 'URL', 'Uint8Array', 'undefined', 'taskq.request'].sort(),
    );
  });

  it('write tagged values', () => {
    expect(encodeArgs([new Date(0), 5n, undefined], codecs)).toEqual([
      { $t: 'Date', v: '1970-01-01T00:00:00.000Z' },
      { $t: 'BigInt', v: '5' },
      { $t: 'undefined', v: null },
    ]);
  });

  it('stay synchronous when no codec is async', () => {
    const encoded = encodeArgs([new Map([[1, new Set([new Date()])]]), 1n, Buffer.from('x')], codecs);
    expect(Array.isArray(encoded)).toBe(true);
  });

  it('round-trip undefined, alone, in arrays and as object values', async () => {
    expect(await roundTrip([undefined])).toEqual([undefined]);
    const [list] = (await roundTrip([[1, undefined, 3]])) as [unknown[]];
    expect(list).toHaveLength(3);
    expect(1 in list).toBe(true);
    expect(list[1]).toBeUndefined();
    const [object] = (await roundTrip([{ a: undefined, b: 1 }])) as [Record<string, unknown>];
    expect(Object.keys(object)).toEqual(['a', 'b']);
    expect(object.a).toBeUndefined();
  });

  it('turn holes of sparse arrays into undefined', async () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    const [list] = (await roundTrip([[1, , 3]])) as [unknown[]];
    expect(list).toEqual([1, undefined, 3]);
    expect(1 in list).toBe(true);
  });

  it('round-trip Dates, also invalid ones', async () => {
    const date = new Date('2024-02-29T12:34:56.789Z');
    const decoded = await roundTripOne(date);
    expect(decoded).toBeInstanceOf(Date);
    expect(decoded.getTime()).toBe(date.getTime());
    const invalid = await roundTripOne(new Date('nope'));
    expect(invalid).toBeInstanceOf(Date);
    expect(Number.isNaN(invalid.getTime())).toBe(true);
    const farFuture = new Date(8.64e15);
    expect((await roundTripOne(farFuture)).getTime()).toBe(8.64e15);
  });

  it('round-trip BigInts', async () => {
    for (const value of [0n, -1n, 2n ** 200n, -(3n ** 100n)]) {
      expect(await roundTripOne(value)).toBe(value);
    }
  });

  it('round-trip NaN, Infinity, -Infinity and -0', async () => {
    const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0];
    const decoded = await roundTrip(values);
    values.forEach((value, i) => {
      expect(Object.is(decoded[i], value)).toBe(true);
    });
    const [nested] = (await roundTrip([{ list: [-0, 0, Number.NaN] }])) as [{ list: number[] }];
    expect(Object.is(nested.list[0], -0)).toBe(true);
    expect(Object.is(nested.list[1], 0)).toBe(true);
    expect(nested.list[2]).toBeNaN();
  });

  it('round-trip Maps with keys of any encodable type', async () => {
    const objectKey = { id: 1 };
    const map = new Map<unknown, unknown>([
      ['a', 1],
      [10n, 'big'],
      [objectKey, [1, 2]],
      [new Date(5), undefined],
    ]);
    const decoded = await roundTripOne(map);
    expect(decoded).toBeInstanceOf(Map);
    const entries = [...decoded];
    expect(entries[0]).toEqual(['a', 1]);
    expect(entries[1]).toEqual([10n, 'big']);
    expect(decoded.get(10n)).toBe('big');
    expect(entries[2]).toEqual([objectKey, [1, 2]]);
    expect((entries[3][0] as Date).getTime()).toBe(5);
    expect(entries[3][1]).toBeUndefined();
  });

  it('round-trip Sets', async () => {
    const decoded = await roundTripOne(new Set([1, 'a', 2n, null]));
    expect(decoded).toBeInstanceOf(Set);
    expect([...decoded]).toEqual([1, 'a', 2n, null]);
  });

  it('keep Buffer and Uint8Array distinct', async () => {
    const buffer = Buffer.from([0, 1, 2, 250, 255]);
    const decodedBuffer = await roundTripOne(buffer);
    expect(Buffer.isBuffer(decodedBuffer)).toBe(true);
    expect([...decodedBuffer]).toEqual([0, 1, 2, 250, 255]);

    const bytes = new Uint8Array([9, 8, 7, 6]);
    const decodedBytes = await roundTripOne(bytes);
    expect(decodedBytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(decodedBytes)).toBe(false);
    expect([...decodedBytes]).toEqual([9, 8, 7, 6]);

    const encoded = encodeArgs([buffer, bytes], codecs) as { $t: string }[];
    expect(encoded.map((value) => value.$t)).toEqual(['Buffer', 'Uint8Array']);
  });

  it('encode only the viewed part of a Uint8Array', async () => {
    const view = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3);
    expect([...(await roundTripOne(view))]).toEqual([2, 3]);
    expect(await roundTripOne(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('round-trip URLs', async () => {
    const url = new URL('https://user@example.com:8080/a/b?q=1#frag');
    const decoded = await roundTripOne(url);
    expect(decoded).toBeInstanceOf(URL);
    expect(decoded.href).toBe(url.href);
  });

  it('round-trip deep nesting: Map of Sets of Dates in an array in an object', async () => {
    const value = {
      report: [
        new Map<string, Set<Date>>([
          ['mon', new Set([new Date(1000), new Date(2000)])],
          ['tue', new Set()],
        ]),
        { bytes: new Uint8Array([1]), file: Buffer.from('hi'), link: new URL('http://x.test/') },
      ],
      // An array, not a Set: Set.add normalizes -0 to 0.
      counts: new Map([[2n ** 70n, [-0, Number.NaN]]]),
    };
    const decoded = await roundTripOne(value);
    const map = decoded.report[0] as Map<string, Set<Date>>;
    expect([...(map.get('mon') ?? [])].map((date) => date.getTime())).toEqual([1000, 2000]);
    expect(map.get('tue')).toEqual(new Set());
    expect(decoded.report[1]).toEqual(value.report[1]);
    const counts = [...(decoded.counts.get(2n ** 70n) ?? [])];
    expect(Object.is(counts[0], -0)).toBe(true);
    expect(counts[1]).toBeNaN();
  });

  it('accept nesting up to the depth limit', async () => {
    let value: unknown = 'leaf';
    for (let i = 0; i < 100; i++) value = [value];
    expect(await roundTripOne(value)).toEqual(value);
  });
});

describe('objects with a $t key', () => {
  it('are escaped and round-trip unchanged', async () => {
    const values = [
      { $t: 'Date', v: 'not a date' },
      { $t: '$obj', v: { $t: 'x' } },
      { $t: 'Unknown', extra: [new Date(3)] },
      { $t: 5 },
    ];
    const encoded = encodeArgs(values, codecs) as { $t: string }[];
    expect(encoded.every((value) => value.$t === '$obj')).toBe(true);
    const decoded = (await roundTrip(values)) as Record<string, unknown>[];
    expect(decoded[0]).toEqual(values[0]);
    expect(decoded[1]).toEqual(values[1]);
    expect((decoded[2].extra as Date[])[0].getTime()).toBe(3);
    expect(decoded[3]).toEqual({ $t: 5 });
  });
});

describe('user codecs', () => {
  const withMoney = new CodecSet([moneyCodec]);

  it('round-trip a class, also nested and inside a Map', async () => {
    const money = new Money(12345678901234567890n, 'EUR');
    const decoded = await roundTripOne({ price: money, byDay: new Map([['mon', money]]) }, withMoney);
    expect(decoded.price).toBeInstanceOf(Money);
    expect(decoded.price).toEqual(money);
    expect(decoded.byDay.get('mon')).toEqual(money);
  });

  it('support async encode and async decode, run in parallel', async () => {
    let running = 0;
    let maxRunning = 0;
    const track = async <T>(result: T): Promise<T> => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await delay(10);
      running--;
      return result;
    };
    const asyncMoney: Codec<Money, { cents: bigint; currency: string }> = {
      name: 'AsyncMoney',
      test: (value) => value instanceof Money,
      encode: (money) => track({ cents: money.cents, currency: money.currency }),
      decode: (data) => track(new Money(data.cents, data.currency)),
    };
    const set = new CodecSet([asyncMoney]);
    const args = [new Money(1n, 'EUR'), { list: [new Money(2n, 'USD')] }, new Map([[new Money(3n, 'GBP'), 'k']])];
    const encoded = encodeArgs(args, set);
    expect(encoded).toBeInstanceOf(Promise);
    expect(maxRunning).toBe(3);
    const wire = JSON.parse(JSON.stringify(await encoded));
    expect(wire[0]).toEqual({ $t: 'AsyncMoney', v: { cents: { $t: 'BigInt', v: '1' }, currency: 'EUR' } });
    maxRunning = 0;
    const decoded = await decodeArgs(wire, set);
    expect(maxRunning).toBe(3);
    expect(decoded).toEqual(args);
  });

  it('encode data that an async encode resolved to, including more async values', async () => {
    class Box {
      constructor(readonly content: unknown) {}
    }
    const boxCodec: Codec<Box, { content: unknown }> = {
      name: 'Box',
      test: (value) => value instanceof Box,
      encode: async (box) => ({ content: box.content }),
      decode: async (data) => new Box(data.content),
    };
    const set = new CodecSet([boxCodec]);
    const value = new Box([new Box(new Date(9)), new Set([new Box(undefined)])]);
    const decoded = await roundTripOne(value, set);
    expect(decoded).toEqual(value);
  });

  it('take over a built-in type, because they are tested first', async () => {
    const epochDate: Codec<Date, number> = {
      name: 'EpochDate',
      test: (value) => value instanceof Date,
      encode: (date) => date.getTime(),
      decode: (ms) => new Date(ms),
    };
    const set = new CodecSet([epochDate]);
    expect(encodeArgs([new Date(42)], set)).toEqual([{ $t: 'EpochDate', v: 42 }]);
    expect(((await roundTripOne(new Date(42), set)) as Date).getTime()).toBe(42);
  });

  it('can be added with extend without changing the original set', async () => {
    const extended = new CodecSet().extend([moneyCodec]);
    expect(extended.get('Money')).toBe(moneyCodec);
    expect(extended.get('Date')).toBeDefined();
    expect(codecs.get('Money')).toBeUndefined();
    expect(extended.codecs[0]).toBe(moneyCodec);
    expect(await roundTripOne(new Money(1n, 'EUR'), extended)).toEqual(new Money(1n, 'EUR'));
  });

  it('receive the argument path in their context', async () => {
    const paths: string[] = [];
    const spy: Codec<Money, string> = {
      name: 'Spy',
      test: (value) => value instanceof Money,
      encode: (money, context) => {
        paths.push(context.path);
        return money.currency;
      },
      decode: (currency, context) => {
        paths.push(context.path);
        return new Money(0n, currency);
      },
    };
    await roundTrip([1, { 'a b': [new Money(0n, 'EUR')] }], new CodecSet([spy]));
    expect(paths).toEqual(['args[1]["a b"][0]', 'args[1]["a b"][0]']);
  });
});
