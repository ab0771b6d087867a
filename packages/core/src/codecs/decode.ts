import { DecodeError, TaskqError } from '../errors.js';
import { describeValue } from './builtin.js';
import { type CodecSet, DATA_KEY, formatPath, MAX_DEPTH, OBJECT_TAG, type PathSegment, TAG_KEY } from './codec-set.js';
import { findHostileOutput, hostileKey } from './keys.js';
import type { Codec } from './types.js';

/**
 * A value that is still being decoded by an async codec. A class rather
 * than a bare Promise so it cannot be confused with a decoded value.
 */
class Deferred {
  readonly promise: Promise<unknown>;
  constructor(promise: Promise<unknown>) {
    this.promise = handled(promise);
  }
}

/**
 * Marks a promise as handled. When a sibling value fails synchronously, the
 * walk stops and nobody awaits the promises already started; their
 * rejections must not become unhandled rejections (fatal in Node).
 */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

interface DecodeState {
  readonly codecs: CodecSet;
  readonly segments: PathSegment[];
  /** Codec outputs (and everything in them) already checked for hostile keys; created on the first codec value. */
  checked?: WeakSet<object>;
}

/**
 * Rebuilds task arguments from what `encodeArgs` produced (usually
 * after a trip through JSON). Codec `decode` calls may be async; they all run
 * in parallel and are awaited. Objects decode to ordinary `{}` objects and
 * arrays to arrays; no input can modify a prototype, and no decoded
 * structure (object, Map key, codec output) holds a `__proto__` key or a
 * `constructor` holding a `prototype` key, which a task's own merge could
 * turn into prototype pollution.
 *
 * @param data the encoded argument list; untrusted.
 * @throws DecodeError (as the rejection) saying what is wrong and where, e.g.
 *   `args[0].x: unknown codec tag "Foo"`: not an array, not JSON data, an
 *   unknown tag, a malformed tagged value, a hostile key, nesting deeper
 *   than 100, or a codec `decode` that threw or rejected (as `cause`).
 */
export async function decodeArgs(data: unknown, codecs: CodecSet): Promise<unknown[]> {
  return decodeArgsNow(data, codecs);
}

/**
 * @internal {@link decodeArgs} without a promise when no codec's `decode` is async (the common case, and the worker's
 * hot path): the arguments, or a promise of them; it throws what `decodeArgs` rejects with.
 */
export function decodeArgsNow(data: unknown, codecs: CodecSet): unknown[] | Promise<unknown[]> {
  if (!Array.isArray(data)) {
    throw new DecodeError(`args: expected an array of arguments, got ${describeValue(data)}`);
  }
  const state: DecodeState = { codecs, segments: [] };
  let result: unknown;
  try {
    result = decodeArray(data, state, 0);
  } catch (error) {
    throw wrapError(error, state);
  }
  if (!(result instanceof Deferred)) return result as unknown[];
  return result.promise.then(
    (value) => value as unknown[],
    (error: unknown) => {
      throw wrapError(error, state);
    },
  );
}

function wrapError(error: unknown, state: DecodeState): unknown {
  if (error instanceof TaskqError) return error;
  // Only exotic in-memory input (a throwing getter, a Proxy) gets here.
  return new DecodeError(`${formatPath(state.segments)}: ${errorMessage(error)}`, { cause: error });
}

function decodeValue(input: unknown, state: DecodeState, depth: number): unknown {
  switch (typeof input) {
    case 'string':
    case 'boolean':
      return input;
    case 'number':
      if (Number.isFinite(input)) return input;
      throw fail(state, `${input} is not JSON data`);
    case 'object':
      break;
    default:
      throw fail(state, `unexpected ${typeof input}, not JSON data`);
  }
  if (input === null) return null;
  // Checked before recursing: 10,000 nested arrays must not reach the stack limit.
  if (depth > MAX_DEPTH) throw fail(state, `nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(input)) return decodeArray(input, state, depth);
  const proto: unknown = Object.getPrototypeOf(input);
  if (proto !== Object.prototype && proto !== null) {
    throw fail(state, `unexpected ${describeValue(input)}, not JSON data`);
  }
  const object = input as Record<string, unknown>;
  if (Object.hasOwn(object, TAG_KEY)) return decodeTagged(object, state, depth);
  return decodeObject(object, state, depth);
}

function decodeArray(input: readonly unknown[], state: DecodeState, depth: number): unknown {
  const length = input.length;
  const out = new Array<unknown>(length);
  let waits: Promise<void>[] | undefined;
  for (let i = 0; i < length; i++) {
    state.segments.push(i);
    const value = decodeValue(input[i], state, depth + 1);
    state.segments.pop();
    if (value instanceof Deferred) {
      waits ??= [];
      waits.push(
        handled(
          value.promise.then((resolved) => {
            out[i] = resolved;
          }),
        ),
      );
    } else {
      out[i] = value;
    }
  }
  return waits === undefined ? out : new Deferred(Promise.all(waits).then(() => out));
}

function decodeObject(input: Record<string, unknown>, state: DecodeState, depth: number): unknown {
  const out: Record<string, unknown> = {};
  let waits: Promise<void>[] | undefined;
  for (const key of Object.keys(input)) {
    if (key === '__proto__') throw fail(state, hostileKey(key, undefined) as string);
    state.segments.push(key);
    const value = decodeValue(input[key], state, depth + 1);
    state.segments.pop();
    if (value instanceof Deferred) {
      const path = key === 'constructor' ? formatPath(state.segments) : '';
      defineOwn(out, key, undefined);
      waits ??= [];
      waits.push(
        handled(
          value.promise.then((resolved) => {
            // A constructor's value is known only now (an async codec): same rule, checked late.
            const reason = key === 'constructor' ? hostileKey(key, resolved) : undefined;
            if (reason !== undefined) throw new DecodeError(`${path}: ${reason}`);
            // The key is already an own data property: this cannot reach a setter.
            out[key] = resolved;
          }),
        ),
      );
    } else {
      const reason = key === 'constructor' ? hostileKey(key, value) : undefined;
      if (reason !== undefined) throw fail(state, reason);
      defineOwn(out, key, value);
    }
  }
  return waits === undefined ? out : new Deferred(Promise.all(waits).then(() => out));
}

function decodeTagged(input: Record<string, unknown>, state: DecodeState, depth: number): unknown {
  const tag = input[TAG_KEY];
  if (typeof tag !== 'string') {
    throw fail(state, `malformed tagged value: "${TAG_KEY}" must be a string, got ${describeValue(tag)}`);
  }
  const keys = Object.keys(input);
  if (keys.length !== 2 || !Object.hasOwn(input, DATA_KEY)) {
    throw fail(
      state,
      `malformed tagged value ${JSON.stringify(tag)}: expected exactly the keys "${TAG_KEY}" and "${DATA_KEY}", ` +
        `got ${keys.map((key) => JSON.stringify(key)).join(', ')}`,
    );
  }
  const data = input[DATA_KEY];
  if (tag === OBJECT_TAG) {
    if (typeof data !== 'object' || data === null || Array.isArray(data) || !isPlainPrototype(data)) {
      throw fail(state, `malformed escaped object: "${DATA_KEY}" must be an object, got ${describeValue(data)}`);
    }
    // The escaped object stands in for the tagged one: same depth.
    return decodeObject(data as Record<string, unknown>, state, depth);
  }
  const codec = state.codecs.get(tag);
  if (codec === undefined) {
    throw fail(
      state,
      `unknown codec tag ${JSON.stringify(tag)} (register the same codecs where tasks are sent and run)`,
    );
  }
  state.segments.push({ codec: tag });
  const decoded = decodeValue(data, state, depth + 1);
  state.segments.pop();
  const path = formatPath(state.segments);
  const checked = (state.checked ??= new WeakSet());
  if (decoded instanceof Deferred) {
    return new Deferred(decoded.promise.then((resolved) => settle(runDecode(codec, resolved, path, checked))));
  }
  return runDecode(codec, decoded, path, checked);
}

function runDecode(codec: Codec, data: unknown, path: string, checked: WeakSet<object>): unknown {
  let result: unknown;
  try {
    result = codec.decode(data, { path });
  } catch (error) {
    throw decodeFailed(codec, path, error);
  }
  if (isThenable(result)) {
    return new Deferred(
      Promise.resolve(result).then(
        (resolved) => checkOutput(codec, resolved, path, checked),
        (error: unknown) => {
          throw decodeFailed(codec, path, error);
        },
      ),
    );
  }
  return checkOutput(codec, result, path, checked);
}

/**
 * A codec's output obeys the key rule of plain objects: a Map built from pairs, or a user codec's object, must not
 * smuggle a hostile key in.
 */
function checkOutput(codec: Codec, result: unknown, path: string, checked: WeakSet<object>): unknown {
  if (typeof result !== 'object' || result === null) return result;
  let reason: string | undefined;
  try {
    reason = findHostileOutput(result, checked);
  } catch (error) {
    // Only a codec that returned something exotic (a Proxy whose traps throw) gets here.
    throw decodeFailed(codec, path, error);
  }
  if (reason !== undefined)
    throw new DecodeError(`${path}: codec "${codec.name}" produced a value with a hostile key: ${reason}`);
  return result;
}

function settle(value: unknown): unknown {
  return value instanceof Deferred ? value.promise : value;
}

function defineOwn(target: object, key: string, value: unknown): void {
  // Defined, not assigned: no key can run a setter inherited from a prototype.
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function isPlainPrototype(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function fail(state: DecodeState, message: string): DecodeError {
  return new DecodeError(`${formatPath(state.segments)}: ${message}`);
}

function decodeFailed(codec: Codec, path: string, error: unknown): DecodeError {
  return new DecodeError(`${path}: codec "${codec.name}" could not decode its data: ${errorMessage(error)}`, {
    cause: error,
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noop(): void {}
