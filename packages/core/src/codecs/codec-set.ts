import { InvalidOptionError } from '../errors.js';
import { builtinCodecs, describeValue } from './builtin.js';
import type { Codec } from './types.js';

/** Key that marks a tagged value on the wire: `{ "$t": name, "v": data }`. @internal */
export const TAG_KEY = '$t';
/** Key of the data of a tagged value. @internal */
export const DATA_KEY = 'v';
/** Tag of an escaped plain object that has its own `$t` key. @internal */
export const OBJECT_TAG = '$obj';
/**
 * Deepest nesting of containers (arrays, objects, codec values) accepted by
 * the encoder and the decoder; both recurse, and this bounds the stack.
 * @internal
 */
export const MAX_DEPTH = 100;

/**
 * The codecs of one queue or worker: user codecs, tested first so they can
 * take over a type, then the built-ins. Validated once, at construction.
 */
export class CodecSet {
  /** All codecs in test order: user codecs first, then {@link builtinCodecs}. */
  readonly codecs: readonly Codec[];
  readonly #user: readonly Codec[];
  // A Map, not an object: a wire tag such as "__proto__" must find nothing.
  readonly #byName: ReadonlyMap<string, Codec>;

  /**
   * @param userCodecs codecs from the `codecs` option.
   * @throws InvalidOptionError (`codecs`) naming the offending codec when one
   *   lacks a name or a function, reuses a name, or uses a name starting with `$`.
   */
  constructor(userCodecs: readonly Codec[] = []) {
    if (!Array.isArray(userCodecs)) {
      throw new InvalidOptionError('codecs', `expected an array of codecs, got ${describeValue(userCodecs)}`);
    }
    const user: readonly Codec[] = Object.freeze([...userCodecs]);
    const byName = new Map<string, Codec>();
    for (const codec of builtinCodecs) byName.set(codec.name, codec);
    const userIndex = new Map<string, number>();
    user.forEach((codec, index) => {
      validateCodec(codec, index);
      const label = `codecs[${index}] ("${codec.name}")`;
      const earlier = userIndex.get(codec.name);
      if (earlier !== undefined) {
        throw new InvalidOptionError(
          'codecs',
          `${label}: the name is already used by codecs[${earlier}]; names must be unique`,
        );
      }
      if (byName.has(codec.name)) {
        throw new InvalidOptionError(
          'codecs',
          `${label}: the name is taken by a built-in codec; choose another one ` +
            '(user codecs are tested before built-ins, so yours still takes over the values it accepts)',
        );
      }
      userIndex.set(codec.name, index);
      byName.set(codec.name, codec);
    });
    this.#user = user;
    this.#byName = byName;
    this.codecs = Object.freeze([...user, ...builtinCodecs]);
  }

  /** The codec registered under `name` (a wire tag), if any. */
  get(name: string): Codec | undefined {
    return this.#byName.get(name);
  }

  /**
   * A new set with this set's user codecs followed by `more` (an adapter adds
   * its codecs this way); this set is unchanged.
   * @throws InvalidOptionError as the constructor does.
   */
  extend(more: readonly Codec[]): CodecSet {
    return new CodecSet([...this.#user, ...more]);
  }
}

function validateCodec(codec: unknown, index: number): asserts codec is Codec {
  const where = `codecs[${index}]`;
  if (typeof codec !== 'object' || codec === null) {
    throw new InvalidOptionError('codecs', `${where}: expected a codec object, got ${describeValue(codec)}`);
  }
  const { name } = codec as { name?: unknown };
  if (typeof name !== 'string' || name === '') {
    throw new InvalidOptionError('codecs', `${where}: "name" must be a non-empty string, got ${describeValue(name)}`);
  }
  const label = `${where} ("${name}")`;
  if (name.startsWith('$')) {
    throw new InvalidOptionError('codecs', `${label}: names starting with "$" are reserved for taskq`);
  }
  for (const method of ['test', 'encode', 'decode'] as const) {
    const fn = (codec as Record<string, unknown>)[method];
    if (typeof fn !== 'function') {
      throw new InvalidOptionError('codecs', `${label}: "${method}" must be a function, got ${describeValue(fn)}`);
    }
  }
}

/**
 * One step of an argument path: a property key, an array index, or the entry
 * into a codec's data (rendered readably for the built-in Map and Set).
 * @internal
 */
export type PathSegment = string | number | { readonly codec: string };

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Renders a path for messages: `args[0].owner.createdBy`, `args[1][3]`,
 * `args[0]["weird key"]`, `args[0].<Map value #2>`, `args[0].<Money data>.cents`.
 * @internal
 */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = 'args';
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (typeof segment === 'number') {
      out += `[${segment}]`;
    } else if (typeof segment === 'string') {
      out += IDENTIFIER.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`;
    } else {
      // Built-in Map data is [[key, value], ...] and Set data is [item, ...];
      // raw indices into them would mean nothing to the user.
      const entry = segments[i + 1];
      const part = segments[i + 2];
      if (segment.codec === 'Map' && typeof entry === 'number') {
        if (part === 0 || part === 1) {
          out += `.<Map ${part === 0 ? 'key' : 'value'} #${entry}>`;
          i += 2;
        } else {
          out += `.<Map entry #${entry}>`;
          i += 1;
        }
      } else if (segment.codec === 'Set' && typeof entry === 'number') {
        out += `.<Set item #${entry}>`;
        i += 1;
      } else {
        out += `.<${segment.codec} data>`;
      }
    }
  }
  return out;
}
