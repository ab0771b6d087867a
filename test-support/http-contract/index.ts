// One behaviour suite for the HTTP adapters (Express, Fastify, Nest on both platforms), run by each adapter's
// http-contract.test.ts.
import type { StartContractApp } from './fixtures.js';
import { hostAndStatusContract } from './host-and-status.js';
import { publishIffSuccessContract } from './publish-iff-success.js';
import { requestArgumentContract } from './request-and-status.js';
import { statusStreamContract } from './status-stream.js';

export * from './fixtures.js';

/**
 * Declares the whole HTTP adapter contract for one adapter: publish iff success, async context, request argument,
 * status route, host checks, status stream.
 */
export function httpContract(adapter: string, start: StartContractApp): void {
  publishIffSuccessContract(adapter, start);
  requestArgumentContract(adapter, start);
  hostAndStatusContract(adapter, start);
  statusStreamContract(adapter, start);
}
