import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { amqp, createQueue, createWorker, silentLogger, TaskRegistry } from '../src/index.js';
import * as mailA from './fixtures/mail-a.js';

describe('no connection until first use', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('importing tasks and creating a queue and worker opens no socket and throws nothing; the first submit does connect', async () => {
    const accepted: Socket[] = [];
    server = createServer((socket) => {
      accepted.push(socket);
      socket.destroy(); // not a broker: the point is only whether anyone dialled
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;

    const registry = new TaskRegistry().module('mail', mailA);
    const transport = amqp({
      url: `amqp://user:secret@127.0.0.1:${port}`,
      logger: silentLogger,
      publishTimeout: 300,
      reconnect: { initialDelay: 20, maxDelay: 50 },
    });
    const queue = createQueue({ registry, transport });
    const worker = createWorker({ registry, transport, logger: silentLogger });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(accepted.length).toBe(0);

    await expect(queue.submit(mailA.sendMail, 'x@example.com')).rejects.toMatchObject({
      code: 'TASKQ_PUBLISH_TIMEOUT',
    });
    expect(accepted.length).toBeGreaterThan(0);
    await worker.stop();
    await queue.close();
  });

  it('an unreachable broker URL fails only at first use, with the password hidden', async () => {
    const registry = new TaskRegistry().module('mail', mailA);
    const transport = amqp({
      url: 'amqp://user:hunter2hunter2@127.0.0.1:1',
      logger: silentLogger,
      publishTimeout: 300,
      reconnect: { initialDelay: 20, maxDelay: 50 },
    });
    const queue = createQueue({ registry, transport });
    const error = await queue.submit(mailA.sendMail, 'x@example.com').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(/unreachable|ECONNREFUSED/);
    expect(error?.message).not.toContain('hunter2hunter2');
    await queue.close();
  });
});
