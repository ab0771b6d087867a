import { UnserializableArgumentError } from '../errors.js';
import { className } from './builtin.js';
import { type CodecSet, formatPath, MAX_DEPTH, OBJECT_TAG, type PathSegment } from './codec-set.js';
import { hostileKey } from './keys.js';
import type { Codec } from './types.js';

interface Tagged {
  $t: string;
  v: unknown;
}

/** A codec `encode` that returned a Promise; its data is encoded once it settles. */
interface Pending {
  readonly promise: Promise<unknown>;
  readonly out: Tagged;
  readonly path: string;
  readonly depth: number;
  // Snapshots of the walk state at the codec value, so the late data is
  // encoded with the right paths and cycle detection.
  readonly segments: PathSegment[];
  readonly ancestors: object[];
  readonly ancestorDepths: number[];
}

class EncodeState {
  segments: PathSegment[] = [];
  /** Containers and codec values on the current path, for cycle detection. */
  ancestors: object[] = [];
  /** `segments.length` when each ancestor was entered, to name where a cycle points. */
  ancestorDepths: number[] = [];
  pending: Pending[] = [];
  constructor(readonly codecs: CodecSet) {}
}

/**
 * Turns task arguments into JSON-safe data. JSON values (strings, finite
 * numbers, booleans, null, arrays, plain objects) are kept as they are; any
 * other value is written as `{ "$t": codecName, "v": data }`, where `data` is
 * what the codec's `encode` returned, itself encoded the same way. A plain
 * object with its own `$t` key is escaped as `{ "$t": "$obj", "v": object }`.
 *
 * Returns synchronously unless a codec's `encode` returned a Promise; then
 * every pending encode is awaited (in parallel) and the result filled in.
 *
 * @throws UnserializableArgumentError (synchronously, or as the rejection)
 *   with the path of the offending value, e.g. `args[0].owner.createdBy`:
 *   functions, symbols, symbol keys, cycles, class instances without a codec,
 *   Promises, WeakMaps, nesting deeper than 100, or a codec that threw.
 */
export function encodeArgs(args: readonly unknown[], codecs: CodecSet): unknown[] | Promise<unknown[]> {
  const count = args.length;
  const out = new Array<unknown>(count);
  // No state is allocated while every argument is a JSON primitive.
  let state: EncodeState | undefined;
  for (let i = 0; i < count; i++) {
    const arg = args[i];
    if (
      typeof arg === 'string' ||
      typeof arg === 'boolean' ||
      arg === null ||
      (typeof arg === 'number' && Number.isFinite(arg) && !Object.is(arg, -0))
    ) {
      out[i] = arg;
      continue;
    }
    state ??= new EncodeState(codecs);
    state.segments.push(i);
    out[i] = encodeValue(arg, state, 1);
    state.segments.pop();
  }
  if (state === undefined || state.pending.length === 0) return out;
  return finishPending(out, state);
}

function encodeValue(value: unknown, state: EncodeState, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return encodeWithCodec(value, state, depth);
    case 'object': {
      if (value === null) return null;
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto === Array.prototype && Array.isArray(value)) return encodeArray(value, state, depth);
      if (proto === Object.prototype || proto === null) {
        return encodeObject(value as Record<string, unknown>, state, depth);
      }
      return encodeWithCodec(value, state, depth);
    }
    default:
      return encodeWithCodec(value, state, depth);
  }
}

function encodeArray(value: readonly unknown[], state: EncodeState, depth: number): unknown[] {
  enter(value, state, depth);
  const length = value.length;
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) {
    state.segments.push(i);
    // A hole reads as undefined and is encoded as such.
    out[i] = encodeValue(value[i], state, depth + 1);
    state.segments.pop();
  }
  leave(state);
  return out;
}

function encodeObject(value: Record<string, unknown>, state: EncodeState, depth: number): unknown {
  enter(value, state, depth);
  for (const symbol of Object.getOwnPropertySymbols(value)) {
    if (Object.prototype.propertyIsEnumerable.call(value, symbol)) {
      throw refusal(state, `has the symbol-keyed property [${String(symbol)}]; only string keys can be sent`);
    }
  }
  const out: Record<string, unknown> = {};
  let hasTagKey = false;
  for (const key of Object.keys(value)) {
    if (key === '__proto__') {
      // Workers refuse this key (prototype pollution); fail at the sender instead.
      throw refusal(state, 'has an own "__proto__" property, which workers refuse; rename the key');
    }
    if (key === 'constructor' && hostileKey(key, value[key]) !== undefined) {
      // Workers refuse "constructor.prototype" anywhere in an envelope; fail at the sender instead.
      throw refusal(state, 'has a "constructor" object with a "prototype" key, which workers refuse; rename the keys');
    }
    if (key === '$t') hasTagKey = true;
    state.segments.push(key);
    out[key] = encodeValue(value[key], state, depth + 1);
    state.segments.pop();
  }
  leave(state);
  return hasTagKey ? { $t: OBJECT_TAG, v: out } : out;
}

function encodeWithCodec(value: unknown, state: EncodeState, depth: number): Tagged {
  const codec = findCodec(value, state);
  const isObject = (typeof value === 'object' && value !== null) || typeof value === 'function';
  // Entered before encode: a Map that contains itself is a cycle through its codec data.
  if (isObject) enter(value, state, depth);
  else if (depth > MAX_DEPTH) throw tooDeep(state);
  const path = formatPath(state.segments);
  let data: unknown;
  try {
    data = codec.encode(value, { path });
  } catch (error) {
    throw encodeFailed(codec.name, path, error);
  }
  const out: Tagged = { $t: codec.name, v: null };
  if (isThenable(data)) {
    const promise = Promise.resolve(data);
    // If a later argument throws first, nobody awaits this one: keep its
    // rejection from becoming an unhandled rejection.
    promise.catch(noop);
    state.pending.push({
      promise,
      out,
      path,
      depth,
      segments: [...state.segments, { codec: codec.name }],
      ancestors: state.ancestors.slice(),
      ancestorDepths: state.ancestorDepths.slice(),
    });
  } else {
    state.segments.push({ codec: codec.name });
    out.v = encodeValue(data, state, depth + 1);
    state.segments.pop();
  }
  if (isObject) leave(state);
  return out;
}

async function finishPending(out: unknown[], state: EncodeState): Promise<unknown[]> {
  // Encoding resolved data may meet more async codecs: loop until none are left.
  while (state.pending.length > 0) {
    const batch = state.pending;
    state.pending = [];
    const results = await Promise.allSettled(batch.map((pending) => pending.promise));
    for (let i = 0; i < batch.length; i++) {
      const pending = batch[i];
      const result = results[i];
      if (result.status === 'rejected') {
        throw encodeFailed(pending.out.$t, pending.path, result.reason);
      }
      state.segments = pending.segments;
      state.ancestors = pending.ancestors;
      state.ancestorDepths = pending.ancestorDepths;
      pending.out.v = encodeValue(result.value, state, pending.depth + 1);
    }
  }
  return out;
}

function findCodec(value: unknown, state: EncodeState): Codec {
  for (const codec of state.codecs.codecs) {
    let accepted: boolean;
    try {
      accepted = codec.test(value);
    } catch (error) {
      throw new UnserializableArgumentError(
        formatPath(state.segments),
        `the test of codec "${codec.name}" threw: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    if (accepted) return codec;
  }
  throw refusal(state, whyNoCodec(value));
}

function whyNoCodec(value: unknown): string {
  if (typeof value === 'function') {
    const name = value.name === '' ? 'an anonymous function' : `function ${value.name}`;
    return `${name} cannot be sent; functions do not survive serialization (pass data and look the function up in the task)`;
  }
  if (typeof value === 'symbol') return `${String(value)} cannot be sent; symbols exist only in one process`;
  if (typeof value !== 'object' || value === null) return `no codec accepts this ${typeof value}`;
  if (isThenable(value)) return 'a Promise cannot be sent; await it before submitting the task';
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    return `a ${className(value) ?? 'weak collection'} cannot be sent; its contents cannot be enumerated`;
  }
  const name = className(value);
  const subject = name === undefined ? 'an instance of an anonymous class' : `class ${name}`;
  return `${subject} has no codec; register one with the codecs option or pass a plain object`;
}

function enter(value: object, state: EncodeState, depth: number): void {
  if (depth > MAX_DEPTH) throw tooDeep(state);
  const at = state.ancestors.indexOf(value);
  if (at !== -1) {
    const target = formatPath(state.segments.slice(0, state.ancestorDepths[at]));
    throw refusal(state, `circular reference back to ${target} (a value that contains itself); cycles cannot be sent`);
  }
  state.ancestors.push(value);
  state.ancestorDepths.push(state.segments.length);
}

function leave(state: EncodeState): void {
  state.ancestors.pop();
  state.ancestorDepths.pop();
}

function tooDeep(state: EncodeState): UnserializableArgumentError {
  return refusal(state, `nested deeper than ${MAX_DEPTH} levels; flatten the data or send ids instead`);
}

function refusal(state: EncodeState, message: string): UnserializableArgumentError {
  return new UnserializableArgumentError(formatPath(state.segments), message);
}

function encodeFailed(codecName: string, path: string, error: unknown): UnserializableArgumentError {
  return new UnserializableArgumentError(path, `codec "${codecName}" failed to encode it: ${errorMessage(error)}`, {
    cause: error,
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    ((typeof value === 'object' && value !== null) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noop(): void {}
