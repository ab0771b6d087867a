import type { OutgoingMessage, PreparedTask } from '@taskq/core/adapter';
import type { EntityManager } from 'typeorm';
import { type Dialect, execute, placeholders } from '../internal/dialect.js';

/** One task written to the outbox, kept in memory so the committing process can publish it without reading it back. */
export interface StagedRow {
  /** The message as submitted; its delay is recomputed from `availableAt` when it is published. */
  readonly message: OutgoingMessage;
  /** Registry id of the task. */
  readonly name: string;
  /** Epoch ms before which the task must not run (the row's `available_at`). */
  readonly availableAt: number;
  /** Epoch ms the row was written (its `created_at`, which a relay's `minAge` counts from). */
  readonly createdAt: number;
}

const COLUMNS = '"id", "queue", "task", "body", "headers", "priority", "available_at", "created_at"';
const ROWS_PER_INSERT = 100;

/** The outbox rows of submitted tasks, as they are kept in memory until they are written and published. */
export function stagedRows(tasks: readonly PreparedTask[], now: number): StagedRow[] {
  return tasks.map(({ handle, message }) => ({
    message,
    name: handle.name,
    // The delay counts from submit: the publish gives the message what is left of it. A delay given as a fraction
    // of a millisecond rounds up: the column holds whole milliseconds.
    availableAt: now + Math.ceil(message.delayMs ?? 0),
    createdAt: now,
  }));
}

/** One row's column values, in COLUMNS order. */
function valuesOf(row: StagedRow): Array<string | number | null> {
  const { message } = row;
  return [
    message.id,
    message.queue,
    row.name,
    message.body.toString('utf8'),
    JSON.stringify(message.headers),
    message.priority ?? null,
    row.availableAt,
    row.createdAt,
  ];
}

/** INSERTs `rows` into the outbox through `manager` (its transaction), with bound parameters. */
export async function insertRows(
  dialect: Dialect,
  manager: EntityManager,
  table: string,
  rows: readonly StagedRow[],
): Promise<void> {
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + ROWS_PER_INSERT);
    const values = chunk.map(() => `(${placeholders(8)})`).join(', ');
    await execute(dialect, manager, `INSERT INTO ${table} (${COLUMNS}) VALUES ${values}`, chunk.flatMap(valuesOf));
  }
}

/**
 * The same INSERTs as one text of literal SQL (PostgreSQL), to go ahead of the COMMIT in that statement's round trip:
 * a text with several statements cannot take bound parameters.
 */
export function inlineInsert(table: string, rows: readonly StagedRow[]): string {
  const statements: string[] = [];
  for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
    const chunk = rows.slice(start, start + ROWS_PER_INSERT);
    const values = chunk.map((row) => `(${valuesOf(row).map(literal).join(', ')})`).join(', ');
    statements.push(`INSERT INTO ${table} (${COLUMNS}) VALUES ${values}`);
  }
  return statements.join('; ');
}

/**
 * A PostgreSQL literal. Strings are quoted with their quotes doubled; one with a backslash is written as an escape
 * string (E'...', backslashes doubled), which reads the same whatever `standard_conforming_strings` says.
 */
export function literal(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`an outbox column takes an integer, got ${value}`);
    return String(value);
  }
  const quoted = `'${value.replace(/'/g, "''")}'`;
  return value.includes('\\') ? `E${quoted.replace(/\\/g, '\\\\')}` : quoted;
}
