import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  type DeadEvent,
  errorCode,
  memory,
  TaskRegistry,
  type Transport,
} from '../src/index.js';
import { HEADER, type MessageHeaders } from '../src/adapter.js';
import { eventually, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import { type AmqpTestBroker, RABBIT_URL } from './support/rabbit.js';

const MAX_PAYLOAD = 4_096;

/** A well-formed envelope as JSON text, with parts replaced by the caller (raw text, so `__proto__` survives). */
function envelope(fields: { task?: string; args?: string; meta?: string; opts?: string } = {}): string {
  const opts = fields.opts === undefined ? '' : `,"opts":${fields.opts}`;
  return `{"v":1,"id":"${randomUUID()}","task":${JSON.stringify(fields.task ?? 'hostile.record')},"args":${fields.args ?? '[]'},"meta":${fields.meta ?? '{}'},"ts":${Date.now()}${opts}}`;
}

/** Each bad message, the reason it must be dead-lettered with, and a piece of the error it must carry. */
const CASES: Array<{ name: string; body: string | Buffer; reason: string; error: string }> = [
  { name: 'not JSON', body: '{"v":1, "id": oops', reason: 'malformed-message', error: 'not JSON' },
  {
    name: 'binary garbage',
    body: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]),
    reason: 'malformed-message',
    error: 'not JSON',
  },
  {
    name: 'JSON array, not an envelope',
    body: '[1,2,3]',
    reason: 'malformed-message',
    error: 'expected a JSON object',
  },
  {
    name: 'JSON object, not an envelope',
    body: '{"hello":"world"}',
    reason: 'malformed-message',
    error: 'unsupported version',
  },
  {
    name: 'envelope without a UUID id',
    body: '{"v":1,"id":"1; DROP TABLE","task":"hostile.record","args":[],"meta":{},"ts":1}',
    reason: 'malformed-message',
    error: '"id" is not a UUID',
  },
  {
    name: 'unknown task id',
    body: envelope({ task: 'no.such.task' }),
    reason: 'unknown-task',
    error: 'no task "no.such.task"',
  },
  {
    name: 'arguments that fail to decode',
    body: envelope({ args: '[{"$t":"NoSuchCodec","v":1}]' }),
    reason: 'undecodable-arguments',
    error: 'unknown codec tag "NoSuchCodec"',
  },
  {
    name: 'payload over the size limit',
    body: envelope({ args: `["${'x'.repeat(MAX_PAYLOAD)}"]` }),
    reason: 'payload-too-large',
    error: `over the limit of ${MAX_PAYLOAD} bytes`,
  },
  {
    name: '__proto__ in an argument',
    body: envelope({ args: '[{"a":{"__proto__":{"polluted":"args"}}}]' }),
    reason: 'malformed-message',
    error: '"__proto__" at args[0].a.__proto__',
  },
  {
    name: 'escaped __proto__ in an argument',
    body: envelope({ args: '[{"\\u005f\\u005fproto__":{"polluted":"escaped"}}]' }),
    reason: 'malformed-message',
    error: '"__proto__" at args[0].__proto__',
  },
  {
    name: 'constructor.prototype in an argument',
    body: envelope({ args: '[{"constructor":{"prototype":{"polluted":"ctor"}}}]' }),
    reason: 'malformed-message',
    error: '"constructor.prototype" at args[0].constructor.prototype',
  },
  {
    name: '__proto__ as a Map key',
    body: envelope({ args: '[{"$t":"Map","v":[["__proto__",{"polluted":"map"}]]}]' }),
    reason: 'undecodable-arguments',
    error: 'entry #0: refused the key "__proto__"',
  },
  {
    name: '__proto__ as a Map key, spelled as an array',
    body: envelope({ args: '[{"$t":"Map","v":[[["__proto__"],{"polluted":"map"}]]}]' }),
    reason: 'undecodable-arguments',
    error: 'entry #0: refused the key "__proto__"',
  },
  {
    name: '__proto__ nested in meta',
    body: envelope({ meta: '{"trace":{"__proto__":{"polluted":"meta"}}}' }),
    reason: 'malformed-message',
    error: '"__proto__" at meta.trace.__proto__',
  },
];

/**
 * How a test puts a raw message on a logical queue: amqplib straight to the physical queue, or the memory transport.
 */
type RawPublish = (queue: string, body: Buffer, headers?: MessageHeaders) => Promise<void>;

interface Env {
  submitter: Transport;
  consumer: Transport;
  queueName: string;
  publishRaw: RawPublish;
}

const transports: Record<string, (broker: AmqpTestBroker) => Promise<Env>> = {
  memory: async (broker) => {
    const shared = broker.track(memory());
    return {
      submitter: shared,
      consumer: shared,
      queueName: broker.queue('hostile'),
      publishRaw: (queue, body, headers = {}) => shared.publish({ id: '', queue, body, headers }),
    };
  },
  amqp: async (broker) => {
    const queueName = broker.queue('hostile');
    return {
      submitter: broker.amqp(),
      consumer: broker.amqp(),
      queueName,
      publishRaw: async (queue, body, headers = {}) => {
        // Straight to the physical queue with plain amqplib: no taskq code on the sending side.
        const connection = await connect(RABBIT_URL);
        try {
          const channel = await connection.createConfirmChannel();
          channel.sendToQueue(broker.physical(queue), body, { persistent: true, headers });
          await channel.waitForConfirms();
          await channel.close();
        } finally {
          await connection.close();
        }
      },
    };
  },
};

function prototypesClean(): void {
  expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toHaveLength(0);
}

for (const [kind, make] of Object.entries(transports)) {
  describe(`hostile and broken input: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    it('dead-letters every bad message with its reason, leaves Object.prototype clean, and runs the next good task', async () => {
      const env = await make(broker);
      const ran: unknown[][] = [];
      async function record(...args: unknown[]) {
        ran.push(args);
        // What careless task code does with an argument: merge it into an object.
        for (const arg of args) if (typeof arg === 'object' && arg !== null) Object.assign({}, arg);
      }
      const registry = new TaskRegistry().add('hostile.record', record);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      // concurrency 1: each bad message is followed by a good one through the same worker slot.
      const worker = createWorker({
        registry,
        transport: env.consumer,
        queues: [env.queueName],
        concurrency: 1,
        maxPayloadBytes: MAX_PAYLOAD,
      });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const dead: DeadEvent[] = [];
      const completed: string[] = [];
      worker.on('dead', (event) => dead.push(event));
      worker.on('completed', (event) => completed.push(event.id));
      await worker.start();

      for (const [i, bad] of CASES.entries()) {
        await env.publishRaw(env.queueName, Buffer.isBuffer(bad.body) ? bad.body : Buffer.from(bad.body));
        await waitFor(() => dead.length === i + 1, `the dead letter for "${bad.name}"`, 10_000);
        expect(dead[i], bad.name).toMatchObject({ reason: bad.reason, queue: env.queueName });
        expect((dead[i].error as Error).message, bad.name).toContain(bad.error);
        // The worker goes on: a normal task right after the bad one runs.
        const good = await queue.submit(record, `after ${bad.name}`);
        await waitFor(() => completed.includes(good.id), `the good task after "${bad.name}"`, 10_000);
        prototypesClean();
      }
      // Only the good tasks ran; none of the hostile ones reached the task function.
      expect(ran).toEqual(CASES.map((bad) => [`after ${bad.name}`]));

      await eventually(
        async () => (await env.consumer.dead.count()) === CASES.length,
        'every bad message stored as a dead letter',
      );
      const letters = await env.consumer.dead.list(CASES.length);
      expect(letters.map((letter) => letter.reason)).toEqual(CASES.map((bad) => bad.reason));
      for (const [i, letter] of letters.entries()) {
        expect(letter.error, CASES[i].name).toContain(CASES[i].error);
        expect(letter.queue).toBe(env.queueName);
        expect(letter.deadAt).toBeInstanceOf(Date);
        expect(letter.id).toMatch(/^[0-9a-f-]{36}$/);
      }
      // The stored body is the message as received, byte for byte.
      expect(letters[1].body.equals(CASES[1].body as Buffer)).toBe(true);
      console.log(
        `[hostile ${kind}] bad messages=${CASES.length} dead-lettered=${letters.length} good tasks run=${ran.length} prototype polluted=no`,
      );
      prototypesClean();
    });

    it('refuses an oversized task at submit, before anything is published', async () => {
      const env = await make(broker);
      async function record(_text: string) {}
      const registry = new TaskRegistry().add('hostile.record', record);
      const queue = createQueue({
        registry,
        transport: env.submitter,
        defaults: { queue: env.queueName },
        maxPayloadBytes: MAX_PAYLOAD,
      });
      stops.push(() => queue.close());
      const error = await queue.submit(record, 'x'.repeat(MAX_PAYLOAD)).catch((e: unknown) => e);
      expect(errorCode(error)).toBe('TASKQ_PAYLOAD_TOO_LARGE');
      expect((error as Error).message).toContain(`over the limit of ${MAX_PAYLOAD} bytes`);
      await queue.submit(record, 'small');
    });

    it('forged broker headers cost the task none of its attempts; a garbage, negative or out-of-range attempt header is dead-lettered, not guessed at', async () => {
      const env = await make(broker);
      const attempts: number[] = [];
      async function flaky() {
        attempts.push(attempts.length + 1);
        if (attempts.length < 2) throw new Error('once');
      }
      const registry = new TaskRegistry().add('hostile.flaky', flaky);
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName] });
      stops.push(() => worker.stop({ timeout: 2_000 }));
      const seen: number[] = [];
      worker.use(async (ctx, next) => {
        seen.push(ctx.attempt);
        await next();
      });
      const completed: string[] = [];
      const dead: DeadEvent[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      worker.on('dead', (event) => dead.push(event));
      await worker.start();
      const opts = '{"attempts":2,"backoff":{"type":"fixed","delayMs":10,"maxDelayMs":10,"jitter":false}}';
      // Refused before anything runs: `Number(h) || 1` used to read "not a number" as 1 and -40 as -40 (42 runs of a
      // 2-attempt task).
      const garbage: Array<string | number> = ['not a number', -40, 0, 1.5, '2; DROP', 3];
      for (const value of garbage)
        await env.publishRaw(env.queueName, Buffer.from(envelope({ task: 'hostile.flaky', opts })), {
          [HEADER.attempt]: value,
        });
      await waitFor(() => dead.length === garbage.length, 'the bad attempt headers dead-lettered');
      expect(dead.map((event) => event.reason)).toEqual(Array(garbage.length).fill('malformed-message'));
      expect(dead.every((event) => (event.error as Error).message.includes(HEADER.attempt))).toBe(true);
      expect((dead[garbage.length - 1].error as Error).message).toContain('attempt 3 of a task that has 2 attempt(s)');
      expect(attempts).toEqual([]);
      // No attempt header and forged broker headers: a first attempt, so the task still gets its retry.
      await env.publishRaw(env.queueName, Buffer.from(envelope({ task: 'hostile.flaky', opts })), {
        'x-death': 'forged',
        'x-delivery-count': 7,
      });
      await waitFor(() => completed.length === 1, 'the task after one retry', 10_000);
      expect(seen).toEqual([1, 2]);
      console.log(
        `[hostile ${kind}] bad attempt headers=${garbage.length} dead-lettered=${dead.length} runs of them=0; forged broker headers: runs=${seen.length}`,
      );
    });
  });
}
