import { randomUUID } from 'node:crypto';
import { connect } from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  currentTask,
  type DeadEvent,
  errorCode,
  InvalidOptionError,
  memory,
  TaskRegistry,
  type Transport,
  UnsupportedVersionError,
} from '../src/index.js';
import { ENVELOPE_VERSION, limitReadableVersion } from '../src/envelope.js';
import { uuidv7 } from '../src/internal/uuid.js';
import { waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import { type AmqpTestBroker, RABBIT_URL } from './support/rabbit.js';

interface Ran {
  readonly args: unknown[];
  readonly id: string;
  readonly meta: unknown;
  readonly attempt: number;
}

const ran: Ran[] = [];
async function record(...args: unknown[]): Promise<void> {
  const task = currentTask();
  ran.push({ args, id: task.id, meta: { ...task.meta }, attempt: task.attempt });
}
let failFirst = true;
async function flaky(label: string): Promise<string> {
  if (failFirst) {
    failFirst = false;
    throw new Error('the first attempt fails');
  }
  ran.push({ args: [label], id: currentTask().id, meta: {}, attempt: currentTask().attempt });
  return label;
}
const registry = new TaskRegistry().add('versions.record', record).add('versions.flaky', flaky);

/** A body exactly as the release before envelope version 2 wrote it: `JSON.stringify({ v, id, task, args, meta, ts, opts })`. */
function versionOneBody(id: string, task: string, args: string, meta: string, ts: number, opts?: string): Buffer {
  return Buffer.from(
    `{"v":1,"id":"${id}","task":"${task}","args":${args},"meta":${meta},"ts":${ts}${opts === undefined ? '' : `,"opts":${opts}`}}`,
  );
}

interface Env {
  submitter: Transport;
  consumer: Transport;
  queueName: string;
  /** Puts a message on the queue as the previous release's publisher did (amqp: plain amqplib, its properties). */
  publishRaw: (id: string, body: Buffer) => Promise<void>;
  /** A transport for another worker process (amqp: a new connection pair; memory: the shared one). */
  another: () => Transport;
}

const transports: Record<string, (broker: AmqpTestBroker) => Env> = {
  memory: (broker) => {
    const shared = broker.track(memory());
    const queueName = broker.queue('versions');
    return {
      submitter: shared,
      consumer: shared,
      queueName,
      publishRaw: (id, body) => shared.publish({ id, queue: queueName, body, headers: {} }),
      another: () => shared,
    };
  },
  amqp: (broker) => {
    const queueName = broker.queue('versions');
    return {
      submitter: broker.amqp(),
      consumer: broker.amqp(),
      queueName,
      publishRaw: async (id, body) => {
        const connection = await connect(RABBIT_URL);
        try {
          const channel = await connection.createConfirmChannel();
          await channel.assertQueue(broker.physical(queueName), { durable: true });
          // The previous release's properties: persistent, mandatory, the id, a content type, no headers.
          channel.publish('', broker.physical(queueName), body, {
            persistent: true,
            mandatory: true,
            messageId: id,
            contentType: 'application/json',
          });
          await channel.waitForConfirms();
          await channel.close();
        } finally {
          await connection.close();
        }
      },
      another: () => broker.amqp(),
    };
  },
};

for (const [kind, make] of Object.entries(transports)) {
  describe(`envelope versions: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();
    afterEach(() => {
      ran.length = 0;
      failFirst = true;
      limitReadableVersion(ENVELOPE_VERSION);
    });

    function worker(env: Env, versionWait?: number, transport = env.consumer) {
      const w = createWorker({ registry, transport, queues: [env.queueName], versionWait });
      stops.push(() => w.stop({ timeout: 2_000 }));
      const dead: Array<DeadEvent & { at: number }> = [];
      const events: string[] = [];
      w.on('dead', (event) => dead.push({ ...event, at: Date.now() }));
      w.on('active', (event) => events.push(`active ${event.id}`));
      w.on('failed', (event) => events.push(`failed ${event.id}`));
      return { worker: w, dead, events };
    }

    it('a version-1 message written byte for byte as the previous release wrote it runs, and its retry too', async () => {
      const env = make(broker);
      const { worker: w } = worker(env);
      await w.start();
      const plain = uuidv7();
      const withMeta = uuidv7();
      const retried = uuidv7();
      await env.publishRaw(plain, versionOneBody(plain, 'versions.record', '[1,"two",{"three":3}]', '{}', Date.now()));
      await env.publishRaw(
        withMeta,
        versionOneBody(withMeta, 'versions.record', '[]', '{"requestId":"r-1"}', Date.now()),
      );
      await env.publishRaw(
        retried,
        versionOneBody(
          retried,
          'versions.flaky',
          '["again"]',
          '{}',
          Date.now(),
          '{"attempts":2,"backoff":{"type":"fixed","delayMs":10,"maxDelayMs":10,"jitter":false}}',
        ),
      );
      await waitFor(() => ran.length === 3, 'the three version-1 tasks', 15_000);
      const byId = new Map(ran.map((r) => [r.id, r]));
      expect(byId.get(plain)).toEqual({ args: [1, 'two', { three: 3 }], id: plain, meta: {}, attempt: 1 });
      expect(byId.get(withMeta)).toEqual({ args: [], id: withMeta, meta: { requestId: 'r-1' }, attempt: 1 });
      expect(byId.get(retried)).toEqual({ args: ['again'], id: retried, meta: {}, attempt: 2 });
    });

    it('createQueue({ envelopeVersion: 2 }) leaves an empty meta out and runs; a meta from middleware travels', async () => {
      const env = make(broker);
      const bodies: string[] = [];
      const publish = env.submitter.publish.bind(env.submitter);
      env.submitter.publish = (message) => {
        bodies.push(message.body.toString('utf8'));
        return publish(message);
      };
      const queue = createQueue({
        registry,
        transport: env.submitter,
        defaults: { queue: env.queueName },
        envelopeVersion: 2,
      });
      stops.push(() => queue.close());
      const { worker: w } = worker(env);
      await w.start();
      const bare = await queue.submit(record, 1, 'two');
      await waitFor(() => ran.length === 1, 'the first task');
      queue.use(async (submission, next) => {
        submission.meta.requestId = 'r-2';
        await next();
      });
      const traced = await queue.submit(record, 3);
      await waitFor(() => ran.length === 2, 'the second task');

      const [first, second] = bodies.map((body) => JSON.parse(body) as Record<string, unknown>);
      expect(bodies[0]).toBe(
        `{"v":2,"id":"${bare.id}","task":"versions.record","args":[1,"two"],"ts":${String(first.ts)}}`,
      );
      expect(second).toEqual({
        v: 2,
        id: traced.id,
        task: 'versions.record',
        args: [3],
        ts: second.ts,
        meta: { requestId: 'r-2' },
      });
      expect(ran).toEqual([
        { args: [1, 'two'], id: bare.id, meta: {}, attempt: 1 },
        { args: [3], id: traced.id, meta: { requestId: 'r-2' }, attempt: 1 },
      ]);
    });

    it('a version-3 message carries its id as the message id and its submit time in the id: a small task is under 64 bytes; meta, options and a given id travel', async () => {
      const env = make(broker);
      const sent: Array<{ id: string; body: string }> = [];
      const publish = env.submitter.publish.bind(env.submitter);
      env.submitter.publish = (message) => {
        sent.push({ id: message.id, body: message.body.toString('utf8') });
        return publish(message);
      };
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      stops.push(() => queue.close());
      const { worker: w } = worker(env);
      await w.start();
      const before = Date.now();
      const small = await queue.submit(record, 1, 2);
      const after = Date.now();
      queue.use(async (submission, next) => {
        submission.meta.requestId = 'r-3';
        await next();
      });
      const withMeta = await queue.with({ attempts: 2 }).submit(record, 'three');
      // An id given by the caller that is no UUIDv7 does not tell the submit time: the body says it.
      const givenId = randomUUID();
      const given = await queue.with({ id: givenId }).submit(record, 4);
      expect(given.id).toBe(givenId);
      await waitFor(() => ran.length === 3, 'the three version-3 tasks');

      expect(sent.map((m) => m.id)).toEqual([small.id, withMeta.id, givenId]);
      expect(sent[0].body).toBe('{"v":3,"task":"versions.record","args":[1,2]}');
      expect(Buffer.byteLength(sent[0].body)).toBeLessThan(64);
      const idTime = Number.parseInt(small.id.slice(0, 8) + small.id.slice(9, 13), 16);
      expect(idTime).toBeGreaterThanOrEqual(before);
      expect(idTime).toBeLessThanOrEqual(after);
      expect(JSON.parse(sent[1].body)).toEqual({
        v: 3,
        task: 'versions.record',
        args: ['three'],
        meta: { requestId: 'r-3' },
        opts: { attempts: 2 },
      });
      const third = JSON.parse(sent[2].body) as { ts: number };
      expect(third).toEqual({
        v: 3,
        task: 'versions.record',
        args: [4],
        ts: expect.any(Number),
        meta: { requestId: 'r-3' },
      });
      expect(third.ts).toBeGreaterThanOrEqual(after);
      const byId = new Map(ran.map((r) => [r.id, r]));
      expect(byId.get(small.id)).toEqual({ args: [1, 2], id: small.id, meta: {}, attempt: 1 });
      expect(byId.get(withMeta.id)).toEqual({
        args: ['three'],
        id: withMeta.id,
        meta: { requestId: 'r-3' },
        attempt: 1,
      });
      expect(byId.get(givenId)).toEqual({ args: [4], id: givenId, meta: { requestId: 'r-3' }, attempt: 1 });
    });

    it('createQueue({ envelopeVersion: 1 }) writes what the previous release wrote, byte for byte', async () => {
      const env = make(broker);
      const bodies: string[] = [];
      const publish = env.submitter.publish.bind(env.submitter);
      env.submitter.publish = (message) => {
        bodies.push(message.body.toString('utf8'));
        return publish(message);
      };
      const queue = createQueue({
        registry,
        transport: env.submitter,
        defaults: { queue: env.queueName },
        envelopeVersion: 1,
      });
      stops.push(() => queue.close());
      const handle = await queue.with({ attempts: 3 }).submit(record, 1, 'two');
      const ts = (JSON.parse(bodies[0]) as { ts: number }).ts;
      expect(bodies[0]).toBe(
        versionOneBody(handle.id, 'versions.record', '[1,"two"]', '{}', ts, '{"attempts":3}').toString('utf8'),
      );
      const { worker: w } = worker(env);
      await w.start();
      await waitFor(() => ran.length === 1, 'the pinned task');
      expect(ran[0]).toEqual({ args: [1, 'two'], id: handle.id, meta: {}, attempt: 1 });
    });

    it('a message of a newer version waits for a worker that reads it, uses no attempt, then is dead-lettered unsupported-version; a dead retry waits again', async () => {
      const env = make(broker);
      const { worker: w, dead, events } = worker(env, 1_000);
      await w.start();
      const id = uuidv7();
      const sent = Date.now();
      await env.publishRaw(
        id,
        Buffer.from(`{"v":4,"task":"versions.record","args":[1],"shape":"of a later release","ts":${sent}}`),
      );
      await waitFor(() => dead.length === 1, 'the dead letter', 15_000);
      expect(dead[0]).toMatchObject({ id, reason: 'unsupported-version', queue: env.queueName });
      expect(dead[0].at - sent).toBeGreaterThanOrEqual(900);
      expect(dead[0].error).toBeInstanceOf(UnsupportedVersionError);
      expect(errorCode(dead[0].error)).toBe('TASKQ_UNSUPPORTED_VERSION');
      expect(dead[0].error).toMatchObject({ version: 4, newest: 3 });
      expect(events).toEqual([]);
      expect(ran).toEqual([]);

      const [letter] = await env.consumer.dead.list();
      expect(letter).toMatchObject({ id, reason: 'unsupported-version', attempts: 1, task: 'versions.record' });
      expect(letter.error).toMatch(/envelope version 4; this worker reads versions up to 3\. It waited \d+ ms/);
      expect(letter.headers['x-taskq-version-wait']).toBeGreaterThanOrEqual(1_000);

      // Sent back, it waits its whole time again (the count of the wait does not travel back).
      const retriedAt = Date.now();
      expect(await env.consumer.dead.retry(id)).toBe(1);
      await waitFor(() => dead.length === 2, 'the second dead letter', 15_000);
      expect(dead[1].at - retriedAt).toBeGreaterThanOrEqual(900);
      expect(ran).toEqual([]);
    });

    it('a worker that reads up to version 2 (the previous release) passes a version-3 task back; once upgraded, a dead retry runs it once', async () => {
      const env = make(broker);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      stops.push(() => queue.close());
      limitReadableVersion(2);
      const old = worker(env, 1_000);
      await old.worker.start();
      const handle = await queue.submit(record, 'late');
      await waitFor(() => old.dead.length === 1, 'the dead letter of the old worker', 15_000);
      expect(old.dead[0]).toMatchObject({ id: handle.id, reason: 'unsupported-version' });
      expect(old.events).toEqual([]);
      await old.worker.stop();

      limitReadableVersion(ENVELOPE_VERSION);
      const upgraded = worker(env, undefined, env.another());
      await upgraded.worker.start();
      expect(await env.submitter.dead.retry('all')).toBe(1);
      await waitFor(() => ran.length === 1, 'the task on the upgraded worker');
      expect(ran).toEqual([{ args: ['late'], id: handle.id, meta: {}, attempt: 1 }]);
    });

    it('a version that is no version, and version-2 and version-3 bodies that are malformed, are dead-lettered malformed-message at once', async () => {
      const env = make(broker);
      const { worker: w, dead } = worker(env, 60_000);
      await w.start();
      const bodies = [
        '{"v":"2","id":"%ID%","task":"versions.record","args":[],"ts":1}',
        '{"v":0,"id":"%ID%","task":"versions.record","args":[],"ts":1}',
        '{"v":2.5,"id":"%ID%","task":"versions.record","args":[],"ts":1}',
        '{"v":2,"id":"%ID%","task":"versions.record","args":[],"meta":5,"ts":1}',
        '{"v":2,"id":"%ID%","task":"versions.record","args":[{"\\u005f_proto__":{"polluted":"v2"}}],"ts":1}',
        '{"v":2,"id":"%ID%","task":"versions.record","args":[{"constructor":{"prototype":{"polluted":"v2"}}}],"ts":1}',
        // Version 3: an id of its own in the body; no ts while the message id (a v4 UUID) tells none; no UUID at all.
        '{"v":3,"id":"%ID%","task":"versions.record","args":[],"ts":1}',
        '{"v":3,"task":"versions.record","args":[]}',
        '{"v":3,"task":"versions.record","args":[],"ts":1}',
      ];
      for (const [n, body] of bodies.entries()) {
        const id = n === bodies.length - 1 ? `not-a-uuid-${n}` : randomUUID();
        await env.publishRaw(id, Buffer.from(body.replace('%ID%', id)));
      }
      await waitFor(() => dead.length === bodies.length, 'every malformed message dead-lettered', 15_000);
      expect(dead.map((d) => d.reason)).toEqual(bodies.map(() => 'malformed-message'));
      expect(dead.map((d) => (d.error as Error).message)).toEqual([
        expect.stringContaining('unsupported version "2"'),
        expect.stringContaining('unsupported version 0'),
        expect.stringContaining('unsupported version 2.5'),
        expect.stringContaining('"meta" is not an object'),
        expect.stringContaining('"__proto__" at args[0].__proto__'),
        expect.stringContaining('"constructor.prototype" at args[0].constructor.prototype'),
        expect.stringContaining('version 3 carries the task id as the message id, not in the body'),
        expect.stringContaining('"ts" is missing and the message id is not a UUIDv7'),
        expect.stringContaining('the message id is not a UUID'),
      ]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(ran).toEqual([]);
    });
  });
}

describe('envelope version options', () => {
  it('envelopeVersion takes 1, 2 or 3 and names itself otherwise', () => {
    for (const bad of [0, 4, 1.5, '1']) {
      const attempt = () => createQueue({ registry, transport: memory(), envelopeVersion: bad as unknown as 1 });
      expect(attempt).toThrow(InvalidOptionError);
      expect(attempt).toThrow(/option "envelopeVersion": expected an envelope version from 1 to 3/);
    }
    expect(() => createQueue({ registry, transport: memory(), envelopeVersion: 1 })).not.toThrow();
  });

  it('versionWait takes 1 second to 7 days', () => {
    for (const bad of [999, '8d', -1, 'soon']) {
      expect(() => createWorker({ registry, transport: memory(), versionWait: bad })).toThrow(/option "versionWait"/);
    }
    expect(() => createWorker({ registry, transport: memory(), versionWait: '2h' })).not.toThrow();
  });
});

describe('amqp: a backlog waiting when the worker starts', () => {
  const { broker, stops } = isolatedPerTest();

  it('tasks that finish at once, delivered before the consumer has finished starting, are acked: the whole backlog runs', async () => {
    const done: number[] = [];
    function quick(n: number): void {
      done.push(n);
    }
    const quickRegistry = new TaskRegistry().add('versions.quick', quick);
    const queueName = broker.queue('backlog');
    const queue = createQueue({ registry: quickRegistry, transport: broker.amqp(), defaults: { queue: queueName } });
    stops.push(() => queue.close());
    await queue.submitMany(
      quick,
      Array.from({ length: 300 }, (_, n): [number] => [n]),
    );
    const w = createWorker({
      registry: quickRegistry,
      transport: broker.amqp(),
      queues: [queueName],
      concurrency: 100,
    });
    stops.push(() => w.stop({ timeout: 2_000 }));
    await w.start();
    await waitFor(() => done.length === 300, 'the 300 tasks of the backlog', 15_000);
    expect(new Set(done).size).toBe(300);
  });
});
