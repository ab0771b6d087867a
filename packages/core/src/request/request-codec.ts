import type { Codec } from '../codecs/types.js';
import { checkRequestContext, type RequestUrlContext, TaskRequest } from './task-request.js';

/**
 * Adapters put a function under this key on each live request; it returns the
 * request's URL context (honouring the framework's trust-proxy setting).
 * The request codec recognises a request by it, whatever the framework.
 */
export const REQUEST_CONTEXT: unique symbol = Symbol.for('taskq.requestContext');

/** A live request an adapter has prepared for travelling. */
export interface ContextualRequest {
  [REQUEST_CONTEXT]: () => RequestUrlContext;
}

function isContextual(value: unknown): value is ContextualRequest {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Partial<ContextualRequest>)[REQUEST_CONTEXT] === 'function'
  );
}

/**
 * Lets a web request be a task argument: it travels as its URL context only
 * and arrives as a {@link TaskRequest}. The Express, Fastify and Nest
 * adapters add it to the queue for you.
 */
export function requestCodec(): Codec<ContextualRequest | TaskRequest, RequestUrlContext> {
  return {
    name: 'taskq.request',
    test: (value) => value instanceof TaskRequest || isContextual(value),
    encode: (value) => (value instanceof TaskRequest ? value.toContext() : value[REQUEST_CONTEXT]()),
    decode: (data) => new TaskRequest(checkRequestContext(data)),
  };
}
