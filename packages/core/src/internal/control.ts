import { MAX_QUEUE_NAME_LENGTH } from '../task-options.js';
import type { ControlMessage } from '../transport.js';

const QUEUE_NAME = new RegExp(`^[A-Za-z0-9_.\\-:]{1,${MAX_QUEUE_NAME_LENGTH}}$`);

/** Largest control message read; real ones are well under 1 KiB. */
export const MAX_CONTROL_BYTES = 4_096;

// Task ids are uuids in practice; anything printable and short is accepted, since `handle(id)` takes any string.
const TASK_ID = /^[A-Za-z0-9_.\-:]{1,255}$/;

/** Encodes a control message for the wire. */
export function encodeControl(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify({ taskq: 'control', v: 1, ...message }));
}

/**
 * Parses a control message off the wire, strictly: anything oversized,
 * malformed or with unknown fields' values is refused (undefined). Control
 * messages only ever pause, resume or cancel, so nothing in one is run.
 */
export function parseControl(content: Buffer): ControlMessage | undefined {
  if (content.length > MAX_CONTROL_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { taskq, v, kind, queue, id } = raw as Record<string, unknown>;
  if (taskq !== 'control' || v !== 1) return undefined;
  if (kind === 'pause' || kind === 'resume')
    return typeof queue === 'string' && QUEUE_NAME.test(queue) ? { kind, queue } : undefined;
  if (kind === 'cancel') return typeof id === 'string' && TASK_ID.test(id) ? { kind, id } : undefined;
  return undefined;
}
