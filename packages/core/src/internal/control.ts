import { MAX_QUEUE_NAME_LENGTH } from '../task-options.js';
import type { ControlMessage, WorkerHeartbeat } from '../transport.js';

const QUEUE_NAME = new RegExp(`^[A-Za-z0-9_.\\-:]{1,${MAX_QUEUE_NAME_LENGTH}}$`);

/** Largest control message read; real ones are well under 1 KiB. */
export const MAX_CONTROL_BYTES = 4_096;

// Task ids are uuids in practice; anything printable and short is accepted, since `handle(id)` takes any string.
const TASK_ID = /^[A-Za-z0-9_.\-:]{1,255}$/;

/** Encodes a control message for the wire. */
export function encodeControl(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify({ taskq: 'control', v: 1, ...message }));
}

/** A JSON object of at most `maxBytes`, or undefined for anything else: the first check of every control-plane message. */
function jsonObject(content: Buffer, maxBytes: number): object | undefined {
  if (content.length > maxBytes) return undefined;
  try {
    const raw: unknown = JSON.parse(content.toString('utf8'));
    return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Parses a control message off the wire, strictly: anything oversized,
 * malformed or with unknown fields' values is refused (undefined). Control
 * messages only ever pause, resume or cancel, so nothing in one is run.
 */
export function parseControl(content: Buffer): ControlMessage | undefined {
  const raw = jsonObject(content, MAX_CONTROL_BYTES);
  if (raw === undefined) return undefined;
  const { taskq, v, kind, queue, id } = raw as Record<string, unknown>;
  if (taskq !== 'control' || v !== 1) return undefined;
  if (kind === 'pause' || kind === 'resume')
    return typeof queue === 'string' && QUEUE_NAME.test(queue) ? { kind, queue } : undefined;
  if (kind === 'ping') return { kind };
  if (kind === 'cancel') return typeof id === 'string' && TASK_ID.test(id) ? { kind, id } : undefined;
  if (kind === 'rate-hold') {
    const { limit, ms } = raw as Record<string, unknown>;
    return typeof limit === 'string' && LIMIT_NAME.test(limit) && count(ms, 3_600_000)
      ? { kind, limit, ms: ms as number }
      : undefined;
  }
  return undefined;
}

/** A rate limit's name: `task.<task id>` or `queue.<queue>`. */
export const LIMIT_NAME = /^[A-Za-z0-9_$.\-:]{1,220}$/;

const ID = /^[0-9a-f-]{36}$/;
const HOST = /^[A-Za-z0-9_.\-:]{1,255}$/;
const VERSION = /^[A-Za-z0-9_.\-+]{1,64}$/;

/** Encodes a heartbeat for the wire. */
export function encodeHeartbeat(beat: WorkerHeartbeat): Buffer {
  return Buffer.from(JSON.stringify({ taskq: 'heartbeat', v: 1, ...beat, startedAt: beat.startedAt.getTime() }));
}

const count = (value: unknown, max: number): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;

/** Parses a heartbeat strictly, like {@link parseControl}: what it shows reaches an operator's terminal. */
export function parseHeartbeat(content: Buffer): WorkerHeartbeat | undefined {
  const raw = jsonObject(content, MAX_HEARTBEAT_BYTES);
  if (raw === undefined) return undefined;
  const { taskq, v, id, host, pid, queues, concurrency, running, version, startedAt, intervalMs } = raw as Record<
    string,
    unknown
  >;
  if (taskq !== 'heartbeat' || v !== 1) return undefined;
  if (typeof id !== 'string' || !ID.test(id) || typeof host !== 'string' || !HOST.test(host)) return undefined;
  if (!count(pid, 2 ** 32) || !count(concurrency, 65_535) || !count(running, 1_000_000)) return undefined;
  if (typeof version !== 'string' || !VERSION.test(version)) return undefined;
  if (!count(startedAt, 8.64e15) || !count(intervalMs, 86_400_000) || intervalMs === 0) return undefined;
  if (
    !Array.isArray(queues) ||
    queues.length > 1_000 ||
    !queues.every((q) => typeof q === 'string' && QUEUE_NAME.test(q))
  )
    return undefined;
  return {
    id,
    host,
    pid,
    queues: queues as string[],
    concurrency,
    running,
    version,
    startedAt: new Date(startedAt),
    intervalMs,
  };
}

/** Largest heartbeat read: one listing 1000 long queue names. */
export const MAX_HEARTBEAT_BYTES = 262_144;
