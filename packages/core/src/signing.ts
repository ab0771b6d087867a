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
      throw new InvalidOptionError(keys.length > 1 ? `${option}[${i}]` : option, 'a signing key must be at least 32 bytes long');
    }
    return buffer;
  });
}

/** @internal HMAC-SHA256 of the body, hex. */
export function signBody(body: Buffer, key: Buffer): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

/** @internal True when `signature` was made by one of `keys` (several keys allow rotation). */
export function verifyBody(body: Buffer, signature: unknown, keys: readonly Buffer[]): boolean {
  if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
  const given = Buffer.from(signature, 'hex');
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(body).digest();
    if (timingSafeEqual(expected, given)) return true;
  }
  return false;
}
