// One rule for every keyed structure a message can produce: plain object
// keys, Map keys, and whatever a codec's decode returns. JSON.parse and the
// decoder only ever create harmless own properties, but task code that turns
// a structure into an object (`Object.fromEntries(map)`, `{ ...x }`) and
// deep-merges it walks `__proto__` or `constructor.prototype` straight into
// Object.prototype. So those shapes are refused wherever they appear.

/**
 * Why `key`, holding `value`, is refused, or undefined when it is harmless:
 * `__proto__`, and `constructor` holding something with a `prototype` key.
 * @internal
 */
export function hostileKey(key: string, value: unknown): string | undefined {
  if (key === '__proto__') return 'refused the key "__proto__" (it could change a prototype)';
  if (key === 'constructor' && hasPrototypeKey(value)) {
    return 'refused a "constructor" key holding a "prototype" key (it could change a prototype)';
  }
  return undefined;
}

function hasPrototypeKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Map) {
    for (const key of value.keys()) if (propertyKeyOf(key) === 'prototype') return true;
    return false;
  }
  return Object.hasOwn(value, 'prototype');
}

/**
 * The property name a Map key becomes in `Object.fromEntries` (and in a
 * computed assignment): a string as it is, anything else through `String()`,
 * so `["__proto__"]` (an array) and a Buffer of those bytes count as
 * `"__proto__"` too. Undefined when `String()` throws (nothing is written then).
 * @internal
 */
export function propertyKeyOf(key: unknown): string | undefined {
  if (typeof key === 'string') return key;
  if (typeof key !== 'object' || key === null) return undefined; // numbers, booleans, bigints: never a hostile name
  try {
    return String(key);
  } catch {
    return undefined;
  }
}

/**
 * The first hostile key anywhere in a codec's decoded output (objects, class
 * instances' own data properties, Map keys, arrays, Sets), described for an
 * error message; undefined when there is none. `checked` holds what earlier
 * calls already walked, so nested codec values are walked once in total.
 * Iterative: a deep output cannot exhaust the stack.
 * @internal
 */
export function findHostileOutput(root: unknown, checked: WeakSet<object>): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null || checked.has(value)) continue;
    checked.add(value);
    // Byte containers have an index per byte and no keys of their own.
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push(value[i]);
    } else if (value instanceof Map) {
      let index = 0;
      for (const [key, item] of value) {
        const name = propertyKeyOf(key);
        const reason = name === undefined ? undefined : hostileKey(name, item);
        if (reason !== undefined) return `Map key #${index}: ${reason}`;
        stack.push(key, item);
        index++;
      }
    } else if (value instanceof Set) {
      for (const item of value) stack.push(item);
    } else {
      for (const key of Object.keys(value)) {
        // Own data properties only: a getter is not run.
        const descriptor = Object.getOwnPropertyDescriptor(value, key);
        const item: unknown = descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined;
        const reason = hostileKey(key, item);
        if (reason !== undefined) return reason;
        stack.push(item);
      }
    }
  }
  return undefined;
}
