import type { MessageProperties } from 'amqplib';
import { uuidv7 } from '../../internal/uuid.js';
import type { MessageHeaders } from '../../transport.js';

/**
 * Headers RabbitMQ adds (dead-lettering through the delay levels, quorum redeliveries); they must not grow or travel
 * across retries, and a dead letter's own fields say what they would.
 */
const BROKER_HEADERS = new Set([
  'x-delivery-count',
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
]);

/** A message's AMQP headers as taskq headers: the broker's own dropped, strings, numbers and booleans kept (Buffers as UTF-8). */
export function taskqHeaders(raw: Record<string, unknown> | undefined): MessageHeaders {
  const headers: MessageHeaders = {};
  if (!raw) return headers;
  for (const key in raw) {
    if (!Object.hasOwn(raw, key)) continue;
    if (BROKER_HEADERS.has(key)) continue;
    const value = raw[key];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') headers[key] = value;
    else if (Buffer.isBuffer(value)) headers[key] = value.toString('utf8');
  }
  return headers;
}

/**
 * A message's id. One published without an id (by hand, by another client) still gets one: its dead letter must be
 * nameable.
 */
export function messageIdOf(properties: MessageProperties): string {
  const messageId: unknown = properties.messageId;
  return typeof messageId === 'string' && messageId !== '' ? messageId : uuidv7();
}
