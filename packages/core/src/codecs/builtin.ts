import { Buffer } from 'node:buffer';
import { requestCodec } from '../request/request-codec.js';
import { hostileKey, propertyKeyOf } from './keys.js';
import type { Codec } from './types.js';

// Built-in codecs validate their data defensively: on the decode side it
// comes from the network. They throw plain errors; decodeArgs wraps them into
// a DecodeError that carries the path.

/** `undefined`, also as an array item or object value (JSON would drop or null it). */
export const undefinedCodec: Codec<undefined, null> = {
  name: 'undefined',
  test: (value) => value === undefined,
  // null, not undefined: the encoder re-encodes codec data, and undefined
  // would select this codec again.
  encode: () => null,
  decode(data: unknown) {
    if (data !== null) throw new TypeError(`expected null, got ${describeValue(data)}`);
    return undefined;
  },
};

const SPECIAL_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-0', -0],
]);

/** `NaN`, `Infinity`, `-Infinity` and `-0`, which JSON turns into `null` or `0`. */
export const numberCodec: Codec<number, string> = {
  name: 'Number',
  test: (value) => typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0)),
  encode(value) {
    if (Number.isNaN(value)) return 'NaN';
    if (value === Number.POSITIVE_INFINITY) return 'Infinity';
    if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
    return '-0';
  },
  decode(data: unknown) {
    const value = typeof data === 'string' ? SPECIAL_NUMBERS.get(data) : undefined;
    if (value === undefined) {
      throw new TypeError(`expected "NaN", "Infinity", "-Infinity" or "-0", got ${describeValue(data)}`);
    }
    return value;
  },
};

/** `bigint`, as a decimal string. */
export const bigintCodec: Codec<bigint, string> = {
  name: 'BigInt',
  test: (value) => typeof value === 'bigint',
  encode: (value) => value.toString(),
  decode(data: unknown) {
    if (typeof data !== 'string' || !/^-?(?:0|[1-9][0-9]*)$/.test(data)) {
      throw new TypeError(`expected a decimal integer string, got ${describeValue(data)}`);
    }
    return BigInt(data);
  },
};

/** `Date` as an ISO string; an invalid Date travels as `null`. */
export const dateCodec: Codec<Date, string | null> = {
  name: 'Date',
  test: (value) => value instanceof Date,
  encode: (value) => (Number.isNaN(value.getTime()) ? null : value.toISOString()),
  decode(data: unknown) {
    if (data === null) return new Date(Number.NaN);
    if (typeof data !== 'string') {
      throw new TypeError(`expected an ISO date string or null, got ${describeValue(data)}`);
    }
    const date = new Date(data);
    // A sender only writes valid ISO strings, so garbage means tampering.
    if (Number.isNaN(date.getTime())) throw new TypeError(`invalid date string ${JSON.stringify(data.slice(0, 40))}`);
    return date;
  },
};

/**
 * `Map` as an array of `[key, value]` pairs; keys and values of any encodable
 * type. A key that `Object.fromEntries` would turn into `__proto__` (or a
 * `constructor` holding a `prototype` key) is refused both ways, as the same
 * key is in a plain object.
 */
export const mapCodec: Codec<Map<unknown, unknown>, [unknown, unknown][]> = {
  name: 'Map',
  test: (value) => value instanceof Map,
  encode(value) {
    const pairs = Array.from(value);
    for (let i = 0; i < pairs.length; i++)
      checkMapKey(pairs[i][0], pairs[i][1], i, 'workers refuse it; rename the key');
    return pairs;
  },
  decode(data: unknown) {
    if (!Array.isArray(data))
      throw new TypeError(`expected an array of [key, value] pairs, got ${describeValue(data)}`);
    const map = new Map<unknown, unknown>();
    for (let i = 0; i < data.length; i++) {
      const entry: unknown = data[i];
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new TypeError(`entry #${i}: expected a [key, value] pair, got ${describeValue(entry)}`);
      }
      checkMapKey(entry[0], entry[1], i, 'the message is not decoded');
      map.set(entry[0], entry[1]);
    }
    return map;
  },
};

function checkMapKey(key: unknown, value: unknown, index: number, consequence: string): void {
  const name = propertyKeyOf(key);
  const reason = name === undefined ? undefined : hostileKey(name, value);
  if (reason !== undefined) throw new TypeError(`entry #${index}: ${reason}; ${consequence}`);
}

/** `Set` as an array of its items. */
export const setCodec: Codec<Set<unknown>, unknown[]> = {
  name: 'Set',
  test: (value) => value instanceof Set,
  encode: (value) => Array.from(value),
  decode(data: unknown) {
    if (!Array.isArray(data)) throw new TypeError(`expected an array of items, got ${describeValue(data)}`);
    return new Set(data);
  },
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(data: unknown): Buffer {
  // Buffer.from(…, 'base64') silently skips invalid characters; refuse them.
  if (typeof data !== 'string' || data.length % 4 !== 0 || !BASE64.test(data)) {
    throw new TypeError(
      `expected a base64 string, got ${typeof data === 'string' ? 'an invalid one' : describeValue(data)}`,
    );
  }
  return Buffer.from(data, 'base64');
}

/** Node `Buffer`, as base64; decodes to a `Buffer`. */
export const bufferCodec: Codec<Buffer, string> = {
  name: 'Buffer',
  test: (value) => Buffer.isBuffer(value),
  encode: (value) => value.toString('base64'),
  decode: decodeBase64,
};

/** `Uint8Array` that is not a `Buffer`, as base64; decodes to a plain `Uint8Array`. */
export const uint8ArrayCodec: Codec<Uint8Array, string> = {
  name: 'Uint8Array',
  test: (value) => value instanceof Uint8Array && !Buffer.isBuffer(value),
  // A view over the same memory: no copy before base64.
  encode: (value) => Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
  decode: (data: unknown) => new Uint8Array(decodeBase64(data)),
};

/** WHATWG `URL`, as its `href`. */
export const urlCodec: Codec<URL, string> = {
  name: 'URL',
  test: (value) => value instanceof URL,
  encode: (value) => value.href,
  decode(data: unknown) {
    if (typeof data !== 'string') throw new TypeError(`expected a URL string, got ${describeValue(data)}`);
    return new URL(data);
  },
};

/**
 * The codecs every {@link CodecSet} includes, in test order: cheap `typeof`
 * tests first. Their names are reserved: a user codec cannot reuse them.
 */
export const builtinCodecs: readonly Codec[] = Object.freeze<Codec[]>([
  numberCodec,
  undefinedCodec,
  bigintCodec,
  dateCodec,
  mapCodec,
  setCodec,
  bufferCodec,
  uint8ArrayCodec,
  urlCodec,
  // Web requests travel as their URL context; the framework adapters mark live requests for it.
  requestCodec() as Codec,
]);

/**
 * Short description of a value's kind for error messages, e.g. `number`,
 * `null`, `array`, `object`, `instance of User`. Never prints the value
 * itself: it may be large or secret.
 * @internal
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  const name = className(value);
  return name === undefined || name === 'Object' ? 'object' : `instance of ${name}`;
}

/**
 * Name of the class of `value`, or undefined for anonymous classes and
 * null-prototype objects.
 * @internal
 */
export function className(value: object): string | undefined {
  try {
    const ctor: unknown = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
    return typeof ctor === 'function' && ctor.name !== '' ? ctor.name : undefined;
  } catch {
    // A Proxy trap or a throwing getter; the name is only for the message.
    return undefined;
  }
}
