import type { DataSource, EntityMetadata } from 'typeorm';
import { EntityKeyError } from '../errors.js';

type ColumnMetadata = EntityMetadata['columns'][number];

// An entity key from the wire becomes a WHERE clause. The driver binds it as
// parameters, so nothing is injected, but a value the database cannot parse
// ("1 OR 1=1" for an integer) or a nested object (a find operator in
// disguise) fails the query, and a failed query is retried as transient:
// such a message would hold a worker for all its attempts. So the key is
// checked against the primary columns first and rebuilt from the metadata.

/** Property names down to each primary column (embedded ones nest). */
type Shape = Map<string, Shape | ColumnMetadata>;

const shapes = new WeakMap<EntityMetadata, Shape>();

/**
 * The key `id` checked against `metadata`'s primary columns: exactly their
 * properties, each value of its column's type. Returns a fresh object built
 * from the metadata's property names (no key of the input is reused).
 * @throws EntityKeyError naming the property and what it expected.
 */
export function checkKey(dataSource: DataSource, metadata: EntityMetadata, id: unknown): Record<string, unknown> {
  let shape = shapes.get(metadata);
  if (!shape) {
    shape = shapeOf(metadata);
    shapes.set(metadata, shape);
  }
  return rebuild(new KeyCheck(dataSource, metadata.name), shape, id, metadata.name);
}

function shapeOf(metadata: EntityMetadata): Shape {
  const root: Shape = new Map();
  for (const column of metadata.primaryColumns) {
    const path = [...(column.embeddedMetadata?.parentPropertyNames ?? []), column.propertyName];
    let node = root;
    for (const part of path.slice(0, -1)) {
      let next = node.get(part);
      if (!(next instanceof Map)) {
        next = new Map();
        node.set(part, next);
      }
      node = next;
    }
    node.set(path[path.length - 1], column);
  }
  return root;
}

class KeyCheck {
  readonly sqlite: boolean;
  constructor(
    readonly dataSource: DataSource,
    readonly entity: string,
  ) {
    this.sqlite = SQLITE_DRIVERS.has(String(dataSource.options.type));
  }

  fail(at: string, message: string): EntityKeyError {
    return new EntityKeyError(this.entity, `the key ${at} ${message}`);
  }
}

const SQLITE_DRIVERS = new Set([
  'sqlite',
  'better-sqlite3',
  'sqljs',
  'capacitor',
  'cordova',
  'expo',
  'nativescript',
  'react-native',
]);

function rebuild(check: KeyCheck, shape: Shape, input: unknown, at: string): Record<string, unknown> {
  if (!isRecord(input)) throw check.fail(at, `must be an object, got ${kindOf(input)}`);
  const keys = Object.keys(input);
  if (keys.length !== shape.size || !keys.every((key) => shape.has(key))) {
    const got =
      keys.length === 0
        ? 'nothing'
        : keys
            .slice(0, 8)
            .map((key) => JSON.stringify(key.slice(0, 40)))
            .join(', ');
    throw check.fail(at, `must have exactly ${[...shape.keys()].join(', ')}, got ${got}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, node] of shape) {
    const value = input[name];
    out[name] =
      node instanceof Map
        ? rebuild(check, node, value, `${at}.${name}`)
        : columnValue(check, node, value, `${at}.${name}`, 0);
  }
  return out;
}

function columnValue(check: KeyCheck, column: ColumnMetadata, value: unknown, at: string, depth: number): unknown {
  const relation = column.relationMetadata;
  if (relation && column.referencedColumn && depth < 4) {
    // A key that is a relation holds the related entity's key: one value, or one per join column.
    if (!isRecord(value)) return columnValue(check, column.referencedColumn, value, at, depth + 1);
    const shape: Shape = new Map();
    for (const join of relation.joinColumns)
      if (join.referencedColumn) shape.set(join.referencedColumn.propertyName, join.referencedColumn);
    return rebuild(check, shape, value, at);
  }
  return scalar(check, column, value, at);
}

const INTEGER_BITS: Readonly<Record<string, number>> = {
  tinyint: 8,
  smallint: 16,
  int2: 16,
  smallserial: 16,
  mediumint: 24,
  int: 32,
  int4: 32,
  integer: 32,
  serial: 32,
  bigint: 64,
  int8: 64,
  int64: 64,
  bigserial: 64,
  long: 64,
  'unsigned big int': 64,
};
const DECIMAL =
  /^(numeric|decimal|dec|fixed|float|float4|float8|double|double precision|real|money|smallmoney|number)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER_TEXT = /^-?(?:0|[1-9][0-9]{0,18})$/;
const DECIMAL_TEXT = /^-?[0-9]{1,65}(?:\.[0-9]{1,65})?$/;
const MAX_TEXT = 1_024;

function scalar(check: KeyCheck, column: ColumnMetadata, value: unknown, at: string): unknown {
  if (Array.isArray(column.enum)) {
    if ((typeof value === 'string' || typeof value === 'number') && column.enum.includes(value)) return value;
    throw check.fail(at, `must be one of the enum values of ${column.propertyName}, got ${kindOf(value)}`);
  }
  const type = typeName(check.dataSource, column);
  const bits = INTEGER_BITS[type] === 32 && check.sqlite ? 64 : INTEGER_BITS[type];
  if (bits !== undefined) return integer(check, value, bits, column.unsigned === true, at);
  if (DECIMAL.test(type)) {
    if (
      (typeof value === 'number' && Number.isFinite(value)) ||
      (typeof value === 'string' && DECIMAL_TEXT.test(value))
    )
      return value;
    throw check.fail(at, `must be a number (column type ${type}), got ${kindOf(value)}`);
  }
  if (type === 'uuid' || type === 'uniqueidentifier') {
    if (typeof value === 'string' && UUID.test(value)) return value;
    throw check.fail(at, `must be a UUID, got ${typeof value === 'string' ? 'another string' : kindOf(value)}`);
  }
  if (type === 'boolean' || type === 'bool') {
    if (typeof value === 'boolean') return value;
    throw check.fail(at, `must be a boolean, got ${kindOf(value)}`);
  }
  if (/char|text|string|clob/.test(type)) {
    const length = Number(column.length) > 0 ? Number(column.length) : MAX_TEXT;
    if (typeof value === 'string' && value.length <= length) return value;
    throw check.fail(
      at,
      `must be a string of at most ${length} characters, got ${typeof value === 'string' ? `${value.length} characters` : kindOf(value)}`,
    );
  }
  if (/date|time/.test(type)) {
    if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
    if (typeof value === 'string' && value.length <= 64 && !Number.isNaN(Date.parse(value))) return value;
    throw check.fail(at, `must be a date, got ${kindOf(value)}`);
  }
  // Any other column type: a plain value, never an object.
  if ((typeof value === 'string' && value.length <= MAX_TEXT) || (typeof value === 'number' && Number.isFinite(value)))
    return value;
  throw check.fail(at, `must be a string or a number (column type ${type}), got ${kindOf(value)}`);
}

function integer(
  check: KeyCheck,
  value: unknown,
  bits: number,
  unsigned: boolean,
  at: string,
): number | string | bigint {
  const min = unsigned ? 0n : -(2n ** BigInt(bits - 1));
  const max = unsigned ? 2n ** BigInt(bits) - 1n : 2n ** BigInt(bits - 1) - 1n;
  // Drivers return 64-bit keys as strings; an app may have set a numeric string too.
  let big: bigint | undefined;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && INTEGER_TEXT.test(value)) big = BigInt(value);
  if (big === undefined || big < min || big > max) {
    throw check.fail(
      at,
      `must be an integer from ${min} to ${max}, got ${typeof value === 'string' ? 'a string that is not one' : kindOf(value)}`,
    );
  }
  return bits > 32 ? (value as number | string | bigint) : Number(big);
}

/** The column's type as the driver names it (`integer`, `character varying`, `uuid`), lower case. */
function typeName(dataSource: DataSource, column: ColumnMetadata): string {
  let type: unknown;
  try {
    type = dataSource.driver.normalizeType(column);
  } catch {
    type = column.type;
  }
  if (typeof type === 'function') return type.name.toLowerCase();
  return String(type).toLowerCase();
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a fractional number';
  return `a ${typeof value}`;
}

/** An object straight from JSON (or the decoder): no class, no array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
