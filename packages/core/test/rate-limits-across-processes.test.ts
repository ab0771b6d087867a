import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, TaskRegistry, type TaskQueue } from '../src/index.js';
import { eventually, sleep } from '../../../test-support/wait.js';
import { type KeyedRun, maxInWindow, maxOverlapPerKey, startOrderPerKey } from './support/limits.js';
import { RABBIT_URL, testBroker } from './support/rabbit.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/limits-worker.mjs', import.meta.url));

// The submitting side's registry: the fixture's ids and options (the key is computed here, at submit).
async function call(_n: number): Promise<void> {}
async function keyed(_key: string, _seq: number): Promise<void> {}
const childRegistry = new TaskRegistry()
  .add('api.call', call, { rateLimit: { max: 10, per: '1s' } })
  .add('tenant.sync', keyed, { concurrencyKey: ([key]) => key, maxPerKey: 1, partitions: 3 });

interface Line {
  readonly kind: string;
  readonly pid: number;
  readonly t?: number;
  readonly attempt?: number;
  readonly key?: string;
  readonly seq?: number;
  readonly start?: number;
  readonly end?: number;
}

describe('rate limits and per-key concurrency across worker processes on RabbitMQ', () => {
  const broker = testBroker('tqrate');
  const children: ChildProcess[] = [];
  const queues: TaskQueue[] = [];
  let dir: string | undefined;

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      child.kill('SIGKILL');
    }
    for (const queue of queues.splice(0)) await queue.close();
    await broker.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  /** Three worker processes, each with its own connections; resolves once all are consuming. */
  async function startChildren(): Promise<() => Line[]> {
    // The fixture's registry: its limit (joined at start) and its key partitions.
    broker.adoptRateLimit('task.api.call');
    broker.adoptPartitions('default', 3);
    dir = mkdtempSync(join(tmpdir(), 'taskq-rate-'));
    const file = join(dir, 'out.jsonl');
    writeFileSync(file, '');
    const read = (): Line[] =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Line);
    for (let i = 0; i < 3; i++) {
      const child = spawn(process.execPath, [FIXTURE], {
        env: { ...process.env, TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: broker.prefix, OUT_FILE: file },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(child);
    }
    await eventually(() => read().filter((l) => l.kind === 'ready').length === 3, 'three workers ready', 15_000);
    return read;
  }

  it('holds 10 starts per second across three worker processes, 100 tasks, no attempt used by waiting', async () => {
    const read = await startChildren();
    const queue = createQueue({ registry: childRegistry, transport: broker.amqp() });
    queues.push(queue);
    await queue.submitMany(
      call,
      Array.from({ length: 100 }, (_, i) => [i] as [number]),
    );
    const started = () => read().filter((l) => l.kind === 'start');
    await eventually(() => started().length >= 100, '100 starts', 25_000);
    const lines = started();
    expect(lines).toHaveLength(100);
    expect(
      maxInWindow(
        lines.map((l) => l.t as number),
        1_000,
      ),
    ).toBeLessThanOrEqual(10);
    // All three processes ran some: the limit is shared, not one process's.
    expect(new Set(lines.map((l) => l.pid)).size).toBe(3);
    expect(lines.every((l) => l.attempt === 1)).toBe(true);
    expect(await broker.drainDead()).toHaveLength(0);
  }, 40_000);

  it('at most one task per key at once across three worker processes, in submit order per key', async () => {
    const read = await startChildren();
    const queue = createQueue({ registry: childRegistry, transport: broker.amqp() });
    queues.push(queue);
    const calls: [string, number][] = [];
    for (let seq = 0; seq < 10; seq++) for (const key of ['a', 'b', 'c', 'd', 'e']) calls.push([key, seq]);
    await queue.submitMany(keyed, calls);
    const done = () => read().filter((l) => l.kind === 'keyed');
    await eventually(() => done().length >= 50, '50 keyed runs', 20_000);
    const runs: KeyedRun[] = done().map((l) => ({
      key: l.key as string,
      seq: l.seq as number,
      start: l.start as number,
      end: l.end as number,
    }));
    expect(runs).toHaveLength(50);
    expect(maxOverlapPerKey(runs)).toBe(1);
    for (const order of startOrderPerKey(runs).values()) expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }, 30_000);
});
