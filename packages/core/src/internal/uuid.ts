import { randomFillSync } from 'node:crypto';

// Random bytes are drawn in blocks: one syscall per 256 ids instead of one per id (submit is a hot path).
const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolOffset = pool.length;
let lastMs = 0;
let sequence = 0;
/** Lower-case hex digits as ASCII codes. */
const DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where an id's text is written before it becomes one string: no intermediate strings per id. */
const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
/** Offsets in `text` of the 16 bytes' two hex digits each. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
/** The last id made here and its milliseconds: a submit reads its id's time back right after making it. */
let lastId: string | undefined;
let lastIdMs = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness, so ids
 * sort by creation time. Within one millisecond a 12-bit counter (rand_a)
 * keeps ids from this process strictly increasing.
 */
export function uuidv7(): string {
  if (poolOffset >= pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const o = poolOffset;
  poolOffset += 16;
  let ms = Date.now();
  if (ms <= lastMs) {
    sequence++;
    if (sequence > 0xfff) {
      // Counter exhausted within one millisecond: borrow the next millisecond, as RFC 9562 allows.
      lastMs++;
      sequence = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    sequence = pool[o + 6] & 0x07; // start low and random so the counter rarely overflows
  }
  pool[o] = Math.floor(ms / 2 ** 40) & 0xff;
  pool[o + 1] = Math.floor(ms / 2 ** 32) & 0xff;
  pool[o + 2] = (ms >>> 24) & 0xff;
  pool[o + 3] = (ms >>> 16) & 0xff;
  pool[o + 4] = (ms >>> 8) & 0xff;
  pool[o + 5] = ms & 0xff;
  pool[o + 6] = 0x70 | ((sequence >>> 8) & 0x0f);
  pool[o + 7] = sequence & 0xff;
  pool[o + 8] = 0x80 | (pool[o + 8] & 0x3f);
  for (let i = 0; i < 16; i++) {
    const byte = pool[o + i];
    text[AT[i]] = DIGITS[byte >>> 4];
    text[AT[i] + 1] = DIGITS[byte & 0x0f];
  }
  const id = text.toString('latin1', 0, 36);
  lastId = id;
  lastIdMs = ms;
  return id;
}

/**
 * The Unix milliseconds a UUIDv7 was made at (its first 48 bits), or undefined for any other string: an id of
 * another version, or no UUID at all.
 */
export function uuidv7Time(id: string): number | undefined {
  if (id === lastId) return lastIdMs;
  if (id.length !== 36 || id.charCodeAt(14) !== 55 /* '7' */ || !isUuid(id)) return undefined;
  return Number.parseInt(id.slice(0, 8), 16) * 0x10000 + Number.parseInt(id.slice(9, 13), 16);
}

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a lower-case UUID string (any version). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_SHAPE.test(value);
}

/**
 * The shape of a task id (a UUID, in either case as a URL may carry it), for
 * adapters that take ids from requests: anything else is no task of ours.
 */
export const TASK_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
