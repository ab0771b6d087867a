import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, type EnvelopeVersion, silentLogger, TaskRegistry, type TaskQueue } from '../../src/index.js';
import { waitFor } from '../../../../test-support/wait.js';
import { RABBIT_URL, testBroker } from '../support/rabbit.js';
import { Child, duplicates } from './children.js';

/** The task the fleet runs (the children register the same function under this name). */
async function record(n: number, label: string): Promise<number> {
  return n + label.length;
}
const registry = new TaskRegistry().add('fleet.record', record);

// A rolling deploy of taskq itself, with real worker processes on the shared broker: workers that read envelope
// versions up to 2 only (as the release before version 3 does) beside workers that read every version, and producers
// that write version 3 (the default) or are pinned to 2 or 1 (as the previous releases wrote). Every task must run
// exactly once or wait; none may be lost.
describe('fault: a fleet of mixed taskq releases during a rolling deploy', () => {
  let broker = testBroker('fleet');
  const children: Child[] = [];
  const stops: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const child of children.splice(0)) await child.stop();
    for (const stop of stops.splice(0).reverse()) await stop();
    await broker.cleanup();
    broker = testBroker('fleet');
  });

  async function startWorker(queue: string, reads: 2 | 3, versionWaitMs = 60_000): Promise<Child> {
    const child = new Child('fleet-worker.ts', {
      BROKER_URL: RABBIT_URL,
      PREFIX: broker.prefix,
      QUEUE: queue,
      READ_VERSION: String(reads),
      VERSION_WAIT: String(versionWaitMs),
    });
    children.push(child);
    await child.waitFor((c) => c.of('ready').length === 1, `a worker reading version ${reads} to start`);
    return child;
  }

  function producer(queue: string, envelopeVersion?: EnvelopeVersion): TaskQueue {
    const q = createQueue({
      registry,
      transport: broker.amqp({ logger: silentLogger }),
      defaults: { queue },
      envelopeVersion,
    });
    stops.push(() => q.close());
    return q;
  }

  async function submit(queue: TaskQueue, label: string, count: number): Promise<string[]> {
    const handles = await queue.submitMany(
      record,
      Array.from({ length: count }, (_, n): [number, string] => [n, label]),
    );
    return handles.map((h) => h.id);
  }

  const completed = (workers: readonly Child[]): string[] =>
    workers.flatMap((w) => w.of('completed').map((e) => e.id as string));

  it('old producers, new workers: version-1 and version-2 tasks run, each once', async () => {
    const queue = broker.queue('old-producer');
    const workers = [await startWorker(queue, 3), await startWorker(queue, 3)];
    const ids = [...(await submit(producer(queue, 1), 'v1', 30)), ...(await submit(producer(queue, 2), 'v2', 30))];

    await waitFor(() => completed(workers).length >= ids.length, 'the 60 old-version tasks on the new workers', 30_000);
    expect(new Set(completed(workers))).toEqual(new Set(ids));
    expect(duplicates(completed(workers))).toEqual([]);
    expect(workers.flatMap((w) => w.of('dead'))).toEqual([]);
    // Both workers took part, and the arguments arrived whole.
    expect(workers.every((w) => w.of('completed').length > 0)).toBe(true);
    expect(new Set(workers.flatMap((w) => w.of('ran').map((e) => `${String(e.label)}:${String(e.n)}`)))).toHaveLength(
      60,
    );
  });

  it('new producer, old workers: version-3 tasks wait, then are dead-lettered unsupported-version; after the upgrade a dead retry runs each once', async () => {
    const queue = broker.queue('new-producer');
    const old = [await startWorker(queue, 2, 3_000), await startWorker(queue, 2, 3_000)];
    const ids = await submit(producer(queue), 'v3', 30);

    // They wait (passed back, no attempt used, nothing runs), then die with the reason of their own.
    await waitFor(
      () => old.flatMap((w) => w.of('dead')).length >= ids.length,
      'the 30 version-3 tasks dead-lettered by the old workers',
      30_000,
    );
    const dead = old.flatMap((w) => w.of('dead'));
    expect(new Set(dead.map((e) => e.id))).toEqual(new Set(ids));
    expect(duplicates(dead.map((e) => e.id as string))).toEqual([]);
    expect(new Set(dead.map((e) => e.reason))).toEqual(new Set(['unsupported-version']));
    expect(String(dead[0].error)).toMatch(/envelope version 3; this worker reads versions up to 2/);
    expect(old.flatMap((w) => w.of('waited')).length).toBeGreaterThanOrEqual(ids.length);
    expect(old.flatMap((w) => [...w.of('active'), ...w.of('ran'), ...w.of('failed')])).toEqual([]);

    const transport = broker.amqp({ logger: silentLogger });
    const letters = await transport.dead.list(100);
    expect(letters).toHaveLength(ids.length);
    expect(new Set(letters.map((l) => l.reason))).toEqual(new Set(['unsupported-version']));

    // The upgrade: the old workers stop, new ones start, then the operator retries the dead letters.
    for (const worker of old) worker.kill('SIGTERM');
    for (const worker of old) await worker.exited;
    const upgraded = [await startWorker(queue, 3), await startWorker(queue, 3)];
    expect(await transport.dead.retry('all')).toBe(ids.length);
    await waitFor(() => completed(upgraded).length >= ids.length, 'the retried tasks on the upgraded workers', 30_000);
    expect(new Set(completed(upgraded))).toEqual(new Set(ids));
    expect(duplicates(completed(upgraded))).toEqual([]);
    expect(upgraded.flatMap((w) => w.of('active')).every((e) => e.attempt === 1)).toBe(true);
    expect(await transport.dead.count()).toBe(0);
  });

  it('a mixed pool during a rolling deploy: every task runs exactly once, version-3 tasks only on new workers, none dead', async () => {
    const queue = broker.queue('mixed');
    const oldWorker = await startWorker(queue, 2);
    const newWorker = await startWorker(queue, 3);
    const v3 = producer(queue);
    const v2 = producer(queue, 2);
    const v2Ids = await submit(v2, 'v2', 100);
    const v3Ids = new Set(await submit(v3, 'v3', 100));
    const ids = [...v2Ids, ...v3Ids];

    // Halfway through the deploy the old worker goes (drained by SIGTERM) and a second new one comes.
    await waitFor(
      () => completed([oldWorker, newWorker]).length >= 50 && oldWorker.of('waited').length > 0,
      'a quarter of the tasks, and a version-3 task passed back by the old worker',
      30_000,
    );
    oldWorker.kill('SIGTERM');
    await oldWorker.exited;
    const secondNew = await startWorker(queue, 3);
    ids.push(...(await submit(v3, 'v3-late', 50)), ...(await submit(v2, 'v2-late', 50)));

    const fleet = [oldWorker, newWorker, secondNew];
    await waitFor(() => completed(fleet).length >= ids.length, 'all 300 tasks', 60_000);
    expect(duplicates(completed(fleet))).toEqual([]);
    expect(new Set(completed(fleet))).toEqual(new Set(ids));
    expect(fleet.flatMap((w) => w.of('dead'))).toEqual([]);
    // The old worker ran version-2 tasks only; the version-3 ones it received it passed back.
    const oldLabels = oldWorker.of('ran').map((e) => String(e.label));
    expect(oldLabels.length).toBeGreaterThan(0);
    expect(oldLabels.every((label) => label.startsWith('v2'))).toBe(true);
    expect(oldWorker.of('waited').length).toBeGreaterThan(0);
    expect(oldWorker.of('waited').every((e) => v3Ids.has(e.id as string))).toBe(true);
    console.log(
      `[mixed fleet] tasks=${ids.length} old worker ran ${oldLabels.length} (v2 only), passed back ${oldWorker.of('waited').length} v3; ` +
        `new workers ran ${newWorker.of('ran').length} + ${secondNew.of('ran').length}; dead 0; duplicates 0`,
    );
  });
});
