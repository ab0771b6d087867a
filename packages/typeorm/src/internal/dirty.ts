import type { EntityMetadata, ObjectLiteral } from 'typeorm';

type ColumnMetadata = EntityMetadata['columns'][number];

/**
 * Property paths of the columns whose value in `entity` differs from the
 * stored row `stored`. A column the entity does not carry (undefined: not
 * selected, not loaded) is not a change. Bookkeeping columns (update date,
 * version) are left out: they change with every save, not by the caller.
 */
export function changedColumns(metadata: EntityMetadata, entity: ObjectLiteral, stored: ObjectLiteral): string[] {
  const changed: string[] = [];
  for (const column of metadata.columns) {
    if (!compared(column)) continue;
    const mine = column.getEntityValue(entity, true);
    if (mine === undefined) continue;
    const theirs = column.getEntityValue(stored, true);
    if (!sameValue(mine, theirs)) changed.push(column.propertyPath);
  }
  return changed;
}

function compared(column: ColumnMetadata): boolean {
  return (
    !column.isVirtualProperty && column.isSelect && !column.isUpdateDate && !column.isVersion && !column.isDiscriminator
  );
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (a instanceof Date || b instanceof Date) return timeOf(a) === timeOf(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array)
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
  // decimal and bigint columns come back as strings; a caller may hold a number or a bigint.
  if (isScalar(a) && isScalar(b)) return String(a) === String(b);
  if (typeof a === 'object' && typeof b === 'object') return stableJson(a) === stableJson(b);
  return false;
}

function isScalar(value: unknown): boolean {
  return (
    typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean'
  );
}

function timeOf(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string' || typeof value === 'number') return new Date(value).getTime();
  return Number.NaN;
}

/** JSON with object keys sorted, so `{a, b}` equals `{b, a}` (json/jsonb columns). */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
      );
    }
    return typeof v === 'bigint' ? v.toString() : v;
  });
}
