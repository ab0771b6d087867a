import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createQueue, createWorker, silentLogger, type TaskStatus } from '@taskq/core';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, waitFor } from '../../../../test-support/wait.js';
import { sqlResultStore } from '../../src/index.js';
import { type DbKind, TestDatabase } from '../support/db.js';
import { testBroker } from '../../../../test-support/taskq-amqp.js';
import { RABBIT_URL } from '../../../../test-support/rabbit.js';
import { registry, slowReport } from '../fixtures/slow-tasks.js';

const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));
const WORKER = fileURLToPath(new URL('../fixtures/store-worker.ts', import.meta.url));
const TSCONFIG = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

/** fixtures/store-worker.ts in a child process, with the JSON lines it writes. */
function workerInChild(env: Record<string, string>): {
  process: ChildProcess;
  events: Array<Record<string, unknown>>;
  stderr: string[];
} {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, ...env, TSX_TSCONFIG_PATH: TSCONFIG },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  return { process: child, events, stderr };
}

// A worker SIGKILLed in the middle of a task, with the SQL store shared by every process: the
// broker redelivers the message, and the status must show the rerun as a start of its own.
describe.each<DbKind>(['postgres', 'sqlite'])(
  'fault: the SQL status of a task whose worker was SIGKILLed (%s)',
  (kind) => {
    const cleanups: Array<() => Promise<void>> = [];

    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    it('the redelivered run counts as a second delivery with its own startedAt', async () => {
      const db = await TestDatabase.create(kind);
      cleanups.push(() => db.cleanup());
      const broker = testBroker('tqorm');
      cleanups.push(() => broker.cleanup());
      const dataSource = await db.dataSource();
      const store = sqlResultStore(dataSource);
      const queueName = broker.queue('redelivery');
      const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName }, store });
      cleanups.push(() => queue.close());

      const child = workerInChild({
        ...db.env,
        RABBIT_URL,
        RABBIT_PREFIX: broker.prefix,
        QUEUE: queueName,
        WORK_MS: '120000',
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.process.once('exit', (_code, signal) => resolve(signal)),
      );
      cleanups.push(async () => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
        await exited;
      });
      const seen = (type: string) => child.events.filter((event) => event.e === type).length;
      await eventually(
        () => seen('ready') === 1 || child.process.exitCode !== null,
        'the worker child to start',
        30_000,
      );
      expect(seen('ready'), child.stderr.join('')).toBe(1);

      const handle = await queue.submit(slowReport, 11);
      await eventually(() => seen('active') === 1, 'the task to start in the child');
      await eventually(async () => (await queue.status(handle.id))?.state === 'active', 'the start recorded');
      const first = (await queue.status(handle.id)) as TaskStatus;
      child.process.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const killedAt = Date.now();

      const worker = createWorker({
        registry,
        transport: broker.amqp(),
        queues: [queueName],
        logger: silentLogger,
        store,
      });
      const completed: string[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      cleanups.push(() => worker.stop({ timeout: 5_000 }));
      await worker.start();
      await waitFor(() => completed.includes(handle.id), 'the redelivered task to complete');
      const last = (await queue.status(handle.id)) as TaskStatus;
      console.log(
        `[${kind} worker SIGKILL, status] first: state=${first.state} attempts=${first.attempts} deliveries=${first.deliveries} startedAt=${first.startedAt?.toISOString()}; ` +
          `after the rerun: state=${last.state} attempts=${last.attempts} deliveries=${last.deliveries} startedAt=${last.startedAt?.toISOString()}`,
      );
      expect(first).toMatchObject({ state: 'active', attempts: 1, deliveries: 1 });
      expect(last).toMatchObject({ state: 'succeeded', attempts: 1, deliveries: 2, result: 11 });
      expect(last.startedAt?.getTime()).toBeGreaterThanOrEqual(killedAt);
      expect(last.startedAt?.getTime()).toBeGreaterThan(first.startedAt?.getTime() ?? Number.POSITIVE_INFINITY);
    });
  },
);
