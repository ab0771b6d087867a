import type { AsyncResource } from 'node:async_hooks';
import type { RequestUrlContext, TaskRequest } from '@taskq/core';
import type { RequestScope } from '@taskq/http';
import type { FastifyRequest } from 'fastify';

/** Per-request state behind one symbol (declared with decorateRequest so request objects keep one shape). */
export const STATE: unique symbol = Symbol('taskq.fastify.state');

export interface RequestState {
  readonly scope: RequestScope;
  /** Re-enters the request's async context where Fastify lost it (after body parsing). */
  readonly resource: AsyncResource;
  /** The plugin's status route, where `accepted()` points by default. */
  readonly statusPath: string | undefined;
  /** The request's URL context, its host checked in onRequest. */
  readonly context: RequestUrlContext;
  urls?: TaskRequest;
}

/** The request's state, or undefined before onRequest or outside the plugin's context. */
export function stateOf(request: FastifyRequest): RequestState | undefined {
  return (request as FastifyRequest & { [STATE]?: RequestState | null })[STATE] ?? undefined;
}

export function setState(request: FastifyRequest, state: RequestState): void {
  (request as FastifyRequest & { [STATE]?: RequestState | null })[STATE] = state;
}
