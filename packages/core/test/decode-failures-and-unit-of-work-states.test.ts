import { describe, expect, it } from 'vitest';
import {
  type Codec,
  createQueue,
  createWorker,
  type DeadEvent,
  memory,
  memoryResultStore,
  silentLogger,
  TaskRegistry,
} from '../src/index.js';
import { waitFor } from '../../../test-support/wait.js';

class Account {
  constructor(readonly id: number) {}
}

function accountCodec(load: (id: number) => Promise<Account>): Codec<Account, number> {
  return { name: 'Account', test: (v) => v instanceof Account, encode: (a) => a.id, decode: (id) => load(id) };
}

describe('argument decode failures', () => {
  it('a codec failure flagged retryable is retried; the task then runs with the decoded argument', async () => {
    let loads = 0;
    const codec = accountCodec(async (id) => {
      loads++;
      if (loads === 1) throw Object.assign(new Error('connection terminated'), { retryable: true });
      return new Account(id);
    });
    const seen: Array<{ id: number; attempt: number }> = [];
    async function bill(account: Account) {
      seen.push({ id: account.id, attempt: loads });
    }
    const registry = new TaskRegistry().add('bill', bill, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
    const transport = memory();
    const queue = createQueue({ registry, transport, codecs: [codec] });
    const worker = createWorker({ registry, transport, codecs: [codec], logger: silentLogger });
    await worker.start();
    await queue.submit(bill, new Account(7));
    await waitFor(() => seen.length === 1, 'the second attempt');
    expect(seen).toEqual([{ id: 7, attempt: 2 }]);
    await worker.stop();
    await queue.close();
  });

  it('any other decode failure is dead-lettered at once as undecodable-arguments', async () => {
    let loads = 0;
    const codec = accountCodec(async () => {
      loads++;
      throw new Error('Account 7 no longer exists');
    });
    async function bill(_account: Account) {}
    const registry = new TaskRegistry().add('bill', bill, { attempts: 3 });
    const transport = memory();
    const queue = createQueue({ registry, transport, codecs: [codec] });
    const worker = createWorker({ registry, transport, codecs: [codec], logger: silentLogger });
    const dead: DeadEvent[] = [];
    worker.on('dead', (event) => dead.push(event));
    await worker.start();
    await queue.submit(bill, new Account(7));
    await waitFor(() => dead.length === 1, 'the dead letter');
    expect(loads).toBe(1);
    expect(dead[0].reason).toBe('undecodable-arguments');
    await worker.stop();
    await queue.close();
  });
});

describe('unit of work states', () => {
  it('a rollback after a successful commit changes nothing', async () => {
    async function step(_n: number) {}
    const registry = new TaskRegistry().add('step', step);
    const transport = memory();
    const queue = createQueue({ registry, transport });
    const uow = queue.begin();
    await uow.run(() => queue.submit(step, 1));
    await uow.commit();
    await uow.rollback();
    expect(uow.state).toBe('committed');
    expect(transport.depth('default')).toBe(1);
    await queue.close();
  });

  it('a bound queue exposes its unit of work as uow, and its unitOfWork(fn) joins it', async () => {
    async function step(_n: number) {}
    const registry = new TaskRegistry().add('step', step);
    const transport = memory();
    const queue = createQueue({ registry, transport });
    const uow = queue.begin();
    const bound = queue.bind(uow);
    expect(bound.uow).toBe(uow);
    expect('transaction' in queue || 'transaction' in bound).toBe(false);
    await bound.unitOfWork(async () => {
      await bound.submit(step, 1);
      await queue.submit(step, 2);
    });
    // Only the bound unit of work's commit publishes, not the end of unitOfWork(fn).
    expect(uow.tasks).toHaveLength(2);
    expect(transport.depth('default')).toBe(0);
    await uow.commit();
    expect(transport.depth('default')).toBe(2);
    await queue.close();
  });
});

describe('unit of work with a stage', () => {
  it('gives deduplication keys back when it rolls back', async () => {
    async function rebuild(_name: string) {}
    const registry = new TaskRegistry().add('rebuild', rebuild);
    const store = memoryResultStore();
    const queue = createQueue({ registry, transport: memory(), store });
    const staged: string[] = [];
    const uow = queue.begin({ stage: async (tasks) => void staged.push(...tasks.map((t) => t.handle.id)) });
    const first = await uow.run(() => queue.with({ key: 'k' }).submit(rebuild, 'x'));
    expect(staged).toEqual([first.id]);
    await uow.rollback();
    const second = await queue.with({ key: 'k' }).submit(rebuild, 'x');
    expect(second.id).not.toBe(first.id);
    await queue.close();
  });
});
