import { errorCode, type TaskQueue, type Transport } from '@taskq/core';
import { HEADER, type MessageHeaders, type StoredError } from '@taskq/core/adapter';
import type { EntityManager } from 'typeorm';
import { type Dialect, execute } from '../internal/dialect.js';

/** Dead-letter reason of an outbox row the relay gave up publishing. */
export const UNPUBLISHABLE = 'unpublishable';

/** What the relay does with a row whose publish failed. */
export interface FailurePolicy {
  /** Failed publishes of one row (counted on the row) before it is dead-lettered. */
  readonly maxAttempts: number;
}

/** An outbox row as claimed (raw columns). */
export type ClaimedRow = Record<string, unknown>;

/** A row the relay dead-letters: its task id and name, and why. */
export interface DeadRow {
  readonly id: string;
  readonly task: string;
  readonly error: StoredError;
}

const MAX_ERROR_CHARS = 2_000;

// Retrying cannot help these: the transport refuses the message as it is (an option out of its limits,
// a message over its size limit), or the row itself cannot be read.
const PERMANENT = new Set(['TASKQ_INVALID_OPTION', 'TASKQ_PAYLOAD_TOO_LARGE', 'TASKQ_OUTBOX_ROW_MALFORMED']);

/**
 * Settles the rows of one claim whose publish failed, inside the claim's
 * transaction (they are still locked). A row the transport refuses outright,
 * or whose tries reach `maxAttempts`, is dead-lettered (body, headers, and
 * why) and deleted; any other keeps its count and last error for the next
 * sweep. Dead-lettering needs the broker too: while it cannot take a dead
 * letter either (an outage, not a bad row), rows are only counted, and the
 * next sweep publishes them normally once the broker is back.
 *
 * @returns the rows dead-lettered (and deleted).
 */
export async function settleFailures(
  dialect: Dialect,
  manager: EntityManager,
  table: string,
  transport: Transport,
  failures: ReadonlyArray<{ readonly row: ClaimedRow; readonly error: unknown }>,
  policy: FailurePolicy,
): Promise<DeadRow[]> {
  const dead: DeadRow[] = [];
  let brokerTakesDeadLetters = true;
  for (const { row, error } of failures) {
    const id = String(row.id);
    const tries = (Number(row.publish_attempts) || 0) + 1;
    const permanent = PERMANENT.has(errorCode(error) ?? '');
    const message = clip(error instanceof Error ? error.message : String(error));
    if (brokerTakesDeadLetters && (permanent || tries >= policy.maxAttempts)) {
      const why = permanent ? `the transport refused it: ${message}` : `not published after ${tries} tries: ${message}`;
      try {
        await transport.deadLetter({
          id,
          queue: String(row.queue),
          body: Buffer.from(String(row.body), 'utf8'),
          headers: deadHeaders(row, why),
        });
        await execute(dialect, manager, `DELETE FROM ${table} WHERE "id" = ?`, [id]);
        dead.push({
          id,
          task: String(row.task),
          error: {
            message: `publishing failed: ${why}`,
            code: errorCode(error),
            name: error instanceof Error ? error.name : undefined,
          },
        });
        continue;
      } catch {
        brokerTakesDeadLetters = false;
      }
    }
    await execute(dialect, manager, `UPDATE ${table} SET "publish_attempts" = ?, "last_error" = ? WHERE "id" = ?`, [
      tries,
      message,
      id,
    ]);
  }
  return dead;
}

/** The row's own headers (when they parse) plus the dead-letter ones `taskq dead list` shows. */
function deadHeaders(row: ClaimedRow, why: string): MessageHeaders {
  let headers: MessageHeaders = {};
  try {
    const parsed: unknown = JSON.parse(String(row.headers));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) headers = parsed as MessageHeaders;
  } catch {
    // A malformed headers column is one of the reasons a row ends here; the body still travels.
  }
  return {
    ...headers,
    [HEADER.reason]: UNPUBLISHABLE,
    [HEADER.error]: why,
    [HEADER.deadAt]: new Date().toISOString(),
    [HEADER.originalQueue]: String(row.queue),
    [HEADER.task]: String(row.task),
  };
}

/**
 * Marks dead-lettered tasks `dead` in the queue's store (after the claim committed: the store may need the same
 * database).
 */
export async function recordDead(queue: TaskQueue, dead: readonly DeadRow[]): Promise<void> {
  const store = queue.store;
  if (!store || dead.length === 0) return;
  const at = new Date();
  await Promise.allSettled(dead.map((row) => store.failed(row.id, row.error, true, at)));
}

function clip(text: string): string {
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS)}…`;
}
