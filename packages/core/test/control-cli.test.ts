import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, createWorker, currentTask, silentLogger, TaskRegistry, type Worker } from '../src/index.js';
import { gate, waitFor } from '../../../test-support/wait.js';
import { RABBIT_URL, testBroker } from './support/rabbit.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

// Real RabbitMQ, the CLI as its own process reading TASKQ_URL and TASKQ_PREFIX.
describe('taskq queues, workers, pause, resume, cancel', () => {
  const broker = testBroker('tqcli');
  const workers: Worker[] = [];

  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 5_000 });
    await broker.cleanup();
  });

  it('shows queues and workers as tables and JSON, pauses, resumes and cancels; never prints the password', async () => {
    const release = gate();
    const aborted: string[] = [];
    async function slow(n: number) {
      await release.promise;
      return n;
    }
    async function held() {
      const { signal } = currentTask();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted.push(String(signal.reason));
      throw signal.reason;
    }
    const registry = new TaskRegistry().add('slow', slow).add('held', held);
    const name = broker.queue('cli');
    const worker = createWorker({
      registry,
      transport: broker.amqp(),
      queues: [name],
      concurrency: 3,
      logger: silentLogger,
    });
    workers.push(worker);
    await worker.start();
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: name } });
    await queue.submit(slow, 1);
    await waitFor(() => worker.active === 1, 'a running task');

    const env = { ...process.env, TASKQ_URL: RABBIT_URL, TASKQ_PREFIX: broker.prefix };
    const taskq = async (...args: string[]) =>
      (await run(process.execPath, ['--import', 'tsx', MAIN, ...args], { env, timeout: 30_000 })).stdout;

    const workersTable = await taskq('workers');
    expect(workersTable).toMatch(/^ID\s+HOST\s+PID\s+QUEUES\s+RUNNING\s+VERSION\s+STARTED/);
    expect(workersTable).toContain(`${process.pid}`);
    expect(workersTable).toContain('1/3');
    const workersJson = JSON.parse(await taskq('workers', '--json')) as Array<Record<string, unknown>>;
    expect(workersJson).toEqual([
      expect.objectContaining({ pid: process.pid, queues: [name], concurrency: 3, running: 1 }),
    ]);

    expect(await taskq('pause', name)).toBe(`paused ${name}\n`);
    expect(await queue.isPaused(name)).toBe(true);
    await queue.submit(slow, 2);
    const queues = JSON.parse(await taskq('queues', '--json'));
    expect(queues).toEqual([{ queue: name, depth: 1, consumers: 0, paused: true, running: 1 }]);
    const queuesTable = await taskq('queues', name);
    expect(queuesTable.split('\n')[0]).toMatch(/^QUEUE\s+DEPTH\s+CONSUMERS\s+PAUSED\s+RUNNING$/);
    expect(queuesTable).toMatch(new RegExp(`${name}\\s+1\\s+0\\s+yes\\s+1`));

    expect(await taskq('resume', name)).toBe(`resumed ${name}\n`);
    expect(await queue.isPaused(name)).toBe(false);
    release.open();

    const handle = await queue.submit(held);
    await waitFor(() => worker.active === 1, 'the held task');
    expect(await taskq('cancel', handle.id)).toContain(handle.id);
    await waitFor(() => aborted.length === 1, 'the cancelled task to see its signal aborted');
    expect(aborted[0]).toContain('TaskCancelledError');

    const all = [workersTable, queuesTable, JSON.stringify(workersJson)].join('\n');
    expect(all).not.toContain('guest:guest');
    await queue.close();
  });
});
