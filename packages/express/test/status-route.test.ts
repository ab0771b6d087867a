// The status route's behaviour (202 + Location, polling, 404, privacy) is in the HTTP contract suite
// (http-contract.test.ts); this is Express's own part.
import { createQueue, memory, TaskRegistry } from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { taskStatusHandler } from '../src/index.js';
import { Cleanup } from '../../../test-support/cleanup.js';

async function buildReport(month: string): Promise<string> {
  return month;
}
const registry = new TaskRegistry().add('reports.build', buildReport);

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('Express: taskStatusHandler', () => {
  it('refuses a queue without a result store when the route is built, naming the option', () => {
    const queue = createQueue({ registry, transport: memory() });
    cleanup.add(() => queue.close());
    expect(() => taskStatusHandler(queue)).toThrowError(
      expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option: 'queue' }),
    );
  });
});
