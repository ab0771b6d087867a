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
 * that changes how a task runs. The body already carries the task id, name,
 * arguments, submit time and its attempts, backoff and timeout.
 */
export interface SignedFields {
  /** Logical queue the message is meant for; a copy published to another queue does not verify. */
  readonly queue: string;
  /** Attempt number (header `x-taskq-attempt`). */
  readonly attempt: number;
  /** Times the dead letter was sent back (header `x-taskq-dead-retries`). */
  readonly deadRetries: number;
  /** Unix ms from which the message may run and its age counts (header `x-taskq-due`, else the body's `ts`). */
  readonly due: number;
}

/** Version 2 signs {@link SignedFields} with the body; version 1 (taskq 0.1) signed the body alone and is refused. */
const PREFIX = 'v2=';
const DOMAIN = 'taskq-signature-v2';

function mac(body: Buffer, fields: SignedFields, key: Buffer) {
  // Queue names cannot contain a newline and the other fields are integers: the joined text is unambiguous.
  return createHmac('sha256', key)
    .update(`${DOMAIN}\n${fields.queue}\n${fields.attempt}\n${fields.deadRetries}\n${fields.due}\n`, 'utf8')
    .update(body);
}

/** @internal The value of header `x-taskq-signature`: `v2=` and the hex HMAC-SHA256 of the fields and the body. */
export function signMessage(body: Buffer, fields: SignedFields, key: Buffer): string {
  return `${PREFIX}${mac(body, fields, key).digest('hex')}`;
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
  if (typeof signature !== 'string' || signature.length !== PREFIX.length + 64 || !signature.startsWith(PREFIX))
    return false;
  const hex = signature.slice(PREFIX.length);
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  for (const key of keys) {
    if (timingSafeEqual(mac(body, fields, key).digest(), given)) return true;
  }
  return false;
}
