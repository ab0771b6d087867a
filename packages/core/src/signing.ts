import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidOptionError } from './errors.js';

/** An HMAC key: at least 32 bytes of secret (a string or a Buffer). */
export type SigningKey = string | Buffer;

/** @internal */
export function checkSigningKeys(keys: readonly SigningKey[], option: string): Buffer[] {
  return keys.map((key, i) => {
    const buffer = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
    // The key's value never goes into the message: it is a secret.
    if (!Buffer.isBuffer(buffer) || buffer.length < 32) {
      throw new InvalidOptionError(
        keys.length > 1 ? `${option}[${i}]` : option,
        'a signing key must be at least 32 bytes long',
      );
    }
    return buffer;
  });
}

/**
 * @internal What a signature binds besides the body: everything on the wire
 * that changes how a task runs. The body carries the task name, arguments and
 * its attempts, backoff and timeout; up to envelope version 2 also the task id
 * and submit time.
 */
export interface SignedFields {
  /**
   * The task id, for an envelope of version 3 or later, whose body leaves it to the message id; undefined for
   * earlier versions, whose body carries it (their signature is the `v2=` one, which workers of earlier releases
   * verify).
   */
  readonly id?: string;
  /** Logical queue the message is meant for; a copy published to another queue does not verify. */
  readonly queue: string;
  /** Attempt number (header `x-taskq-attempt`). */
  readonly attempt: number;
  /** Times the dead letter was sent back (header `x-taskq-dead-retries`). */
  readonly deadRetries: number;
  /** Unix ms from which the message may run and its age counts (header `x-taskq-due`, else the submit time). */
  readonly due: number;
}

/**
 * Version 3 signs the task id with {@link SignedFields} and the body; version 2 the fields without the id (the body
 * held it); version 1 (taskq 0.1) signed the body alone and is refused.
 */
const V2 = 'v2=';
const V3 = 'v3=';
const PREFIX_LENGTH = 3;

function mac(body: Buffer, fields: SignedFields, key: Buffer) {
  // Queue names cannot contain a newline, an id is a UUID and the other fields are integers: the joined text is
  // unambiguous.
  const head =
    fields.id === undefined
      ? `taskq-signature-v2\n${fields.queue}\n${fields.attempt}\n${fields.deadRetries}\n${fields.due}\n`
      : `taskq-signature-v3\n${fields.id}\n${fields.queue}\n${fields.attempt}\n${fields.deadRetries}\n${fields.due}\n`;
  return createHmac('sha256', key).update(head, 'utf8').update(body);
}

/**
 * @internal The value of header `x-taskq-signature`: `v3=` (with an id) or `v2=`, then the hex HMAC-SHA256 of the
 * fields and the body.
 */
export function signMessage(body: Buffer, fields: SignedFields, key: Buffer): string {
  return `${fields.id === undefined ? V2 : V3}${mac(body, fields, key).digest('hex')}`;
}

/**
 * @internal True when `signature` was made over these fields and body by one of `keys` (several keys allow rotation).
 */
export function verifyMessage(
  body: Buffer,
  fields: SignedFields,
  signature: unknown,
  keys: readonly Buffer[],
): boolean {
  // The scheme is the one the fields call for, never the one the message names: a version-3 message (its id out of
  // the body) with a `v2=` signature does not verify.
  const prefix = fields.id === undefined ? V2 : V3;
  if (typeof signature !== 'string' || signature.length !== PREFIX_LENGTH + 64 || !signature.startsWith(prefix))
    return false;
  const hex = signature.slice(PREFIX_LENGTH);
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  for (const key of keys) {
    if (timingSafeEqual(mac(body, fields, key).digest(), given)) return true;
  }
  return false;
}
