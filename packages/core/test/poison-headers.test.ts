import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  type AmqpTransport,
  createQueue,
  createWorker,
  type DeadEvent,
  errorCode,
  memory,
  NonRetryableError,
  TaskRegistry,
  type Transport,
} from '../src/index.js';
import { HEADER, type MessageHeaders } from '../src/adapter.js';
import { runDeadCommand } from '../src/cli/dead.js';
import { headerTableBytes } from '../src/internal/bounded-headers.js';
import { channelCounts } from '../src/transports/amqp/amqp-transport.js';
import { eventually, sleep, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import { publishWithLargeHeaders } from './support/raw-frames.js';
import { type AmqpTestBroker, queueDepth, RABBIT_URL } from './support/rabbit.js';

const SIGNING_KEY = 'k'.repeat(32);
/** What a dead letter's or a retry's header set may take at most, encoded (taskq's own plus the bounded copy). */
const BOUNDED_BYTES = 20 * 1024;

/** `count` headers of `each` bytes, `x-pad-0` ... */
function padding(count: number, each: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-pad-${i}`, String(i % 10).repeat(each)]));
}

/** A well-formed envelope of task `task`, as JSON text. */
function envelope(task: string, opts = ''): Buffer {
  return Buffer.from(`{"v":1,"id":"${randomUUID()}","task":"${task}","args":[],"meta":{},"ts":${Date.now()}${opts}}`);
}

/** A message injected as someone with write access to the broker would, or straight into the memory transport. */
type Inject = (queue: string, body: Buffer, headers: Record<string, string>) => Promise<void>;

interface Env {
  transport: Transport;
  queueName: string;
  inject: Inject;
}

const transports: Record<'memory' | 'amqp', (broker: AmqpTestBroker) => Env> = {
  memory: (broker) => {
    const transport = broker.track(memory());
    return {
      transport,
      queueName: broker.queue('poison'),
      inject: (queue, body, headers) => transport.publish({ id: randomUUID(), queue, body, headers }),
    };
  },
  amqp: (broker) => ({
    transport: broker.amqp(),
    queueName: broker.queue('poison'),
    inject: (queue, body, headers) => publishWithLargeHeaders(broker.physical(queue), body, headers, randomUUID()),
  }),
};

/**
 * rabbitmqctl answers for the broker of this machine. CI runs one (a missing rabbitmqctl fails
 * there); elsewhere (a broker in Docker) the transport's own count is asserted alone.
 */
const CAN_ASK_BROKER =
  process.env.CI === 'true' || process.env.PATH?.split(':').some((dir) => existsSync(`${dir}/rabbitmqctl`)) === true;

/** Channels the broker counts per connection, by the name the client gave the connection. */
async function brokerChannels(): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)(
    'rabbitmqctl',
    ['list_connections', 'client_properties', 'channels', '--formatter', 'json', '-q'],
    { timeout: 30_000 },
  );
  const rows = JSON.parse(stdout) as Array<{ client_properties: Array<[string, string, unknown]>; channels: number }>;
  const channels = new Map<string, number>();
  for (const row of rows) {
    const name = row.client_properties.find(([key]) => key === 'connection_name')?.[2];
    if (typeof name === 'string') channels.set(name, (channels.get(name) ?? 0) + row.channels);
  }
  return channels;
}

/**
 * The transport holds one channel per connection (the publisher's and the consumer's), by its own count and by the
 * broker's.
 */
async function expectOneChannelEach(transport: AmqpTransport): Promise<void> {
  const counts = channelCounts(transport);
  expect(counts.publish.channels).toBe(1);
  expect(counts.consume.channels).toBe(1);
  if (!CAN_ASK_BROKER) return;
  await eventually(
    async () => {
      const onBroker = await brokerChannels();
      return onBroker.get(counts.publish.name) === 1 && onBroker.get(counts.consume.name) === 1;
    },
    'the broker to count one channel on each connection',
    10_000,
    200,
  );
}

function deadOnlyOnce(dead: DeadEvent[], id: string): void {
  expect(dead.filter((event) => event.id === id)).toHaveLength(1);
}

for (const [kind, make] of Object.entries(transports)) {
  describe(`bounded headers and dead letters: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    it('dead-letters a message with 58 KB of headers and a body that is not JSON with a bounded header set, and runs the next task', async () => {
      const env = make(broker);
      async function ok() {
        return 'ok';
      }
      const registry = new TaskRegistry().add('poison.ok', ok);
      const queue = createQueue({ registry, transport: env.transport, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.transport, queues: [env.queueName], concurrency: 1 });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const dead: DeadEvent[] = [];
      const completed: string[] = [];
      worker.on('dead', (event) => dead.push(event));
      worker.on('completed', (event) => completed.push(event.id));
      await worker.start();

      const headers = {
        ...padding(58, 1_000),
        'x-one-big': 'b'.repeat(900),
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      };
      await env.inject(env.queueName, Buffer.from('not json'), headers);
      await waitFor(() => dead.length === 1, 'the dead letter', 15_000);
      expect(dead[0].reason).toBe('malformed-message');
      const task = await queue.submit(ok);
      await waitFor(() => completed.includes(task.id), 'the task after the poison message', 15_000);

      const [letter] = await env.transport.dead.list();
      expect(letter).toMatchObject({
        reason: 'malformed-message',
        queue: env.queueName,
        truncated: false,
        bodyBytes: 8,
      });
      expect(letter.body.toString()).toBe('not json');
      expect(letter.error).toContain('not JSON');
      expect(headerTableBytes(letter.headers)).toBeLessThan(BOUNDED_BYTES);
      // A bounded copy of the received headers, first come first kept (a small one still fits after large
      // ones no longer do), and the count of those left out.
      expect(letter.headers.traceparent).toBe(headers.traceparent);
      expect(letter.headers['x-one-big']).toBeUndefined();
      expect(letter.headers['x-pad-0']).toBe('0'.repeat(1_000));
      expect(Number(letter.headers['x-taskq-headers-dropped'])).toBeGreaterThan(40);
      deadOnlyOnce(dead, dead[0].id);
      console.log(
        `[poison ${kind}] received headers=${headerTableBytes(headers)} B, dead letter headers=${headerTableBytes(letter.headers)} B, dropped=${letter.headers['x-taskq-headers-dropped']}`,
      );
    });

    it('a publish refused for what the message is rejects alone, at once, with TASKQ_UNPUBLISHABLE_MESSAGE; other publishes go through', async () => {
      const env = make(broker);
      const good = (n: number) => ({
        id: randomUUID(),
        queue: env.queueName,
        body: Buffer.from(`{"n":${n}}`),
        headers: {},
      });
      const refused: Array<{
        name: string;
        message: { id: string; queue: string; body: Buffer; headers: MessageHeaders };
      }> = [{ name: '70 KB of headers', message: { ...good(0), headers: padding(70, 1_000) } }];
      if (kind === 'amqp') {
        // These pass taskq's own size check; amqplib throws while encoding them (RangeError, TypeError).
        refused.push({
          name: 'a header name over 255 bytes',
          message: { ...good(0), headers: { ['k'.repeat(300)]: 'v' } },
        });
        refused.push({ name: 'a message id over 255 characters', message: { ...good(0), id: 'i'.repeat(300) } });
      }
      for (let round = 0; round < 3; round++) {
        const results = await Promise.allSettled(
          [good(1), ...refused.map((r) => r.message), good(2)].map((message) => env.transport.publish(message)),
        );
        expect(results[0].status).toBe('fulfilled');
        expect(results.at(-1)?.status).toBe('fulfilled');
        for (const [i, { name }] of refused.entries()) {
          const result = results[i + 1];
          expect(result.status, name).toBe('rejected');
          expect(errorCode((result as PromiseRejectedResult).reason), name).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
        }
      }
      if (kind === 'amqp') {
        await eventually(
          async () => (await queueDepth(env.queueName, broker.prefix)) === 6,
          'the six good messages in the queue',
        );
        expect(channelCounts(env.transport as AmqpTransport).publish.channels).toBe(1);
      }
    });

    it('dead-letters a body over the payload limit as its size and a 4 KiB prefix; retry leaves it in place', async () => {
      const env = make(broker);
      const registry = new TaskRegistry().add('poison.ok', async () => 'ok');
      const worker = createWorker({
        registry,
        transport: env.transport,
        queues: [env.queueName],
        concurrency: 1,
        maxPayloadBytes: 64 * 1024,
      });
      stops.push(() => worker.stop({ timeout: 2_000 }));
      const dead: DeadEvent[] = [];
      worker.on('dead', (event) => dead.push(event));
      await worker.start();

      const size = 3 * 1024 * 1024;
      const body = Buffer.alloc(size, 'z');
      body.write('{"v":1,"head":"kept"', 0);
      await env.inject(env.queueName, body, {});
      await waitFor(() => dead.length === 1, 'the dead letter', 15_000);
      expect(dead[0].reason).toBe('payload-too-large');

      const [letter] = await env.transport.dead.list();
      expect(letter).toMatchObject({
        reason: 'payload-too-large',
        queue: env.queueName,
        truncated: true,
        bodyBytes: size,
      });
      expect(letter.body.length).toBe(4 * 1024);
      expect(letter.body.equals(body.subarray(0, 4 * 1024))).toBe(true);
      let printed = '';
      expect(
        await runDeadCommand(['list', '--json'], { transport: env.transport, stdout: (text) => (printed += text) }),
      ).toBe(0);
      expect(JSON.parse(printed)).toMatchObject({ reason: 'payload-too-large', bodyBytes: size, truncated: true });
      printed = '';
      await runDeadCommand(['list'], { transport: env.transport, stdout: (text) => (printed += text) });
      expect(printed).toContain(`body=${size} bytes (prefix kept)`);
      // Sending a prefix back could only dead-letter it again.
      expect(await env.transport.dead.retry(letter.id)).toBe(0);
      expect(await env.transport.dead.retry('all')).toBe(0);
      expect(await env.transport.dead.count()).toBe(1);
      console.log(
        `[oversized ${kind}] body=${size} B, dead letter keeps ${letter.body.length} B and bodyBytes=${letter.bodyBytes}`,
      );
    });
  });
}

describe('header poison on RabbitMQ', () => {
  const { broker, stops } = isolatedPerTest();

  const cases = [
    { name: '64 KB of headers in 64 headers', headers: () => padding(64, 1_000), signed: false },
    {
      name: '128 KB of headers in one value',
      headers: () => ({ 'x-huge': 'h'.repeat(127 * 1024), 'x-small': 's' }),
      signed: false,
    },
    { name: '64 KB of headers, signing keys set', headers: () => padding(64, 1_000), signed: true },
  ];

  for (const poison of cases) {
    it(`${poison.name} and a body that is not JSON: dead-lettered with its reason; one channel per connection; the next submit of the process succeeds`, async () => {
      // One transport for the queue and the worker: the same process, the same publishing connection.
      const transport = broker.amqp({ publishTimeout: 5_000 });
      const queueName = broker.queue('poison');
      async function ok() {
        return 'ok';
      }
      const registry = new TaskRegistry().add('poison.ok', ok);
      const signingKey = poison.signed ? SIGNING_KEY : undefined;
      const queue = createQueue({ registry, transport, defaults: { queue: queueName }, signingKey });
      const worker = createWorker({
        registry,
        transport,
        queues: [queueName],
        concurrency: 1,
        signingKeys: signingKey,
      });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const dead: DeadEvent[] = [];
      const completed: string[] = [];
      const errors: unknown[] = [];
      worker.on('dead', (event) => dead.push(event));
      worker.on('completed', (event) => completed.push(event.id));
      worker.on('error', (event) => errors.push(event.error));
      await worker.start();
      await queue.submit(ok);
      await waitFor(() => completed.length === 1, 'a task before the poison', 15_000);

      const id = randomUUID();
      await publishWithLargeHeaders(broker.physical(queueName), Buffer.from('not json'), poison.headers(), id);
      await waitFor(() => dead.length === 1, 'the dead letter', 15_000);
      expect(dead[0].id).toBe(id);
      // Not JSON, or (when the signature is checked first) not signed: either way dead with its reason.
      expect(['malformed-message', 'bad-signature']).toContain(dead[0].reason);

      const after = await queue.submit(ok);
      await waitFor(() => completed.includes(after.id), 'the task submitted after the poison', 15_000);
      await expectOneChannelEach(transport);

      const letters = await transport.dead.list();
      expect(letters.map((letter) => [letter.id, letter.reason])).toEqual([[id, dead[0].reason]]);
      expect(headerTableBytes(letters[0].headers)).toBeLessThan(BOUNDED_BYTES);
      // Acked, not looping: the work queue is empty and nothing was dead-lettered twice.
      await sleep(300);
      expect(await queueDepth(queueName, broker.prefix)).toBe(0);
      deadOnlyOnce(dead, id);
      expect(errors).toEqual([]);
      console.log(
        `[poison amqp] ${poison.name}: dead-lettered as ${dead[0].reason} with ${headerTableBytes(letters[0].headers)} B of headers; channels ${JSON.stringify(channelCounts(transport))}`,
      );
    });
  }

  it('a dead letter too large for the connection (frame_max 4096) goes to the dead-letter queue body-only, with its reason', async () => {
    // A broker configured with a small frame_max: a header frame over it would make the broker close the connection.
    const transport = broker.amqp({ url: `${RABBIT_URL}?frameMax=4096`, publishTimeout: 5_000 });
    const queueName = broker.queue('poison-frame');
    async function fails() {
      throw new NonRetryableError(`refused: ${'é'.repeat(3_000)}`);
    }
    async function ok() {
      return 'ok';
    }
    const registry = new TaskRegistry().add('poison.fails', fails).add('poison.ok', ok);
    const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, queues: [queueName], concurrency: 1 });
    stops.push(
      () => queue.close(),
      () => worker.stop({ timeout: 2_000 }),
    );
    const dead: DeadEvent[] = [];
    const completed: string[] = [];
    worker.on('dead', (event) => dead.push(event));
    worker.on('completed', (event) => completed.push(event.id));
    await worker.start();

    const submittedAt = Date.now();
    const failing = await queue.submit(fails);
    await waitFor(() => dead.length === 1, 'the dead letter', 15_000);
    const after = await queue.submit(ok);
    await waitFor(() => completed.includes(after.id), 'the task after the dead letter', 15_000);

    const [letter] = await transport.dead.list();
    expect(letter).toMatchObject({
      id: failing.id,
      reason: 'non-retryable',
      queue: queueName,
      task: 'poison.fails',
      errorStack: undefined,
    });
    expect(Buffer.byteLength(letter.error ?? '')).toBeLessThanOrEqual(512);
    expect(letter.error).toMatch(/^refused: é+…$/);
    // The body whole, as submitted (envelope version 3: the id is the message id, the letter's id above).
    expect(JSON.parse(letter.body.toString())).toEqual({ v: 3, task: 'poison.fails', args: [] });
    // The submit time the list shows comes from the id, a UUIDv7, as the body left it out.
    expect(letter.submittedAt?.getTime()).toBeGreaterThanOrEqual(submittedAt);
    expect(letter.submittedAt?.getTime()).toBeLessThanOrEqual(Date.now());
    await expectOneChannelEach(transport);
  });

  it('a retry the broker cannot take (its headers over frame_max 4096) dead-letters the task instead of running it again and again', async () => {
    const transport = broker.amqp({ url: `${RABBIT_URL}?frameMax=4096`, publishTimeout: 5_000 });
    const queueName = broker.queue('poison-retry-frame');
    let runs = 0;
    const registry = new TaskRegistry().add('poison.flaky', async () => {
      runs++;
      throw new Error('fails');
    });
    const worker = createWorker({ registry, transport, queues: [queueName], concurrency: 1 });
    stops.push(() => worker.stop({ timeout: 2_000 }));
    const dead: DeadEvent[] = [];
    worker.on('dead', (event) => dead.push(event));
    await worker.start();

    const opts = ',"opts":{"attempts":3,"backoff":{"type":"fixed","delayMs":10,"maxDelayMs":10,"jitter":false}}';
    await publishWithLargeHeaders(
      broker.physical(queueName),
      envelope('poison.flaky', opts),
      padding(4, 800),
      randomUUID(),
    );
    await waitFor(() => dead.length === 1, 'the dead letter', 15_000);
    expect(dead[0].reason).toBe('non-retryable');
    expect(errorCode(dead[0].error)).toBe('TASKQ_UNPUBLISHABLE_MESSAGE');
    await sleep(300);
    expect(runs).toBe(1);
    expect(await transport.dead.count()).toBe(1);
    expect(await queueDepth(queueName, broker.prefix)).toBe(0);
  });

  it('a failed task that came with 128 KB of headers is retried with a bounded header set and runs its next attempt', async () => {
    const transport = broker.amqp({ publishTimeout: 5_000 });
    const queueName = broker.queue('poison-retry');
    const attempts: number[] = [];
    const registry = new TaskRegistry().add('poison.flaky', async () => {
      attempts.push(attempts.length + 1);
      if (attempts.length === 1) throw new Error('first attempt fails');
    });
    const worker = createWorker({ registry, transport, queues: [queueName], concurrency: 1 });
    stops.push(() => worker.stop({ timeout: 2_000 }));
    const completed: number[] = [];
    worker.on('completed', (event) => completed.push(event.attempt));
    await worker.start();

    const opts = ',"opts":{"attempts":2,"backoff":{"type":"fixed","delayMs":10,"maxDelayMs":10,"jitter":false}}';
    await publishWithLargeHeaders(
      broker.physical(queueName),
      envelope('poison.flaky', opts),
      { 'x-huge': 'h'.repeat(127 * 1024), [HEADER.attempt]: '1' },
      randomUUID(),
    );
    await waitFor(() => completed.length === 1, 'the second attempt', 15_000);
    expect(completed).toEqual([2]);
    expect(await transport.dead.count()).toBe(0);
    expect(channelCounts(transport).publish.channels).toBe(1);
  });
});
