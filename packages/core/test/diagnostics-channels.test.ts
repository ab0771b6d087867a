import { AsyncLocalStorage } from 'node:async_hooks';
import { tracingChannel } from 'node:diagnostics_channel';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CHANNELS,
  type ProcessEvent,
  type PublishEvent,
  type ReceiveEvent,
  type SubmitEvent,
  traceIdOf,
} from '../src/diagnostics.js';
import {
  type CompletedEvent,
  createQueue,
  createWorker,
  fieldsFirstLogger,
  type Logger,
  memory,
  TaskRegistry,
  type TaskFunction,
  type Transport,
} from '../src/index.js';
import type { OutgoingMessage } from '../src/adapter.js';
import { isolatedPerTest, transportPairs } from './support/isolated.js';

/** Registers `fn` as `id` and gives it back, to submit. */
function taskIn<F extends TaskFunction>(registry: TaskRegistry, id: string, fn: F): F {
  registry.add(id, fn);
  return fn;
}

/** Retries `assertion` until it passes (20 s at most). */
const until = (assertion: () => void): Promise<void> => vi.waitFor(assertion, { timeout: 20_000, interval: 20 });

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

interface Recorded {
  submit: SubmitEvent[];
  publish: PublishEvent[];
  receive: ReceiveEvent[];
  process: ProcessEvent[];
  /** Process events as they were at asyncEnd (outcome set). */
  processed: ProcessEvent[];
}

/** Subscribes to all four channels; `onSubmitStart` may write the carrier or set `enter`. */
function subscribe(
  hooks: { onSubmitStart?: (e: SubmitEvent) => void; onProcessStart?: (e: ProcessEvent) => void } = {},
) {
  const recorded: Recorded = { submit: [], publish: [], receive: [], process: [], processed: [] };
  const noop = () => {};
  const handlers = {
    submit: {
      start: (e: SubmitEvent) => {
        recorded.submit.push(e);
        hooks.onSubmitStart?.(e);
      },
      end: noop,
      asyncStart: noop,
      asyncEnd: noop,
      error: noop,
    },
    publish: {
      start: (e: PublishEvent) => recorded.publish.push(e),
      end: noop,
      asyncStart: noop,
      asyncEnd: noop,
      error: noop,
    },
    receive: {
      start: noop,
      end: (e: ReceiveEvent) => recorded.receive.push(e),
      asyncStart: noop,
      asyncEnd: noop,
      error: noop,
    },
    process: {
      start: (e: ProcessEvent) => {
        recorded.process.push(e);
        hooks.onProcessStart?.(e);
      },
      end: noop,
      asyncStart: noop,
      asyncEnd: (e: ProcessEvent) => recorded.processed.push(e),
      error: noop,
    },
  };
  const channels = {
    submit: tracingChannel<unknown, SubmitEvent>(CHANNELS.submit),
    publish: tracingChannel<unknown, PublishEvent>(CHANNELS.publish),
    receive: tracingChannel<unknown, ReceiveEvent>(CHANNELS.receive),
    process: tracingChannel<unknown, ProcessEvent>(CHANNELS.process),
  };
  channels.submit.subscribe(handlers.submit);
  channels.publish.subscribe(handlers.publish);
  channels.receive.subscribe(handlers.receive);
  channels.process.subscribe(handlers.process);
  const unsubscribe = () => {
    channels.submit.unsubscribe(handlers.submit);
    channels.publish.unsubscribe(handlers.publish);
    channels.receive.unsubscribe(handlers.receive);
    channels.process.unsubscribe(handlers.process);
  };
  return { recorded, unsubscribe };
}

/** The transport with every published message recorded (and what an AsyncLocalStorage held at the time). */
function recording(transport: Transport, als?: AsyncLocalStorage<string>) {
  const published: Array<{ message: OutgoingMessage; store: string | undefined }> = [];
  const wrapped: Transport = {
    kind: transport.kind,
    durable: transport.durable,
    prefix: transport.prefix,
    destination: transport.destination?.bind(transport),
    publish(message) {
      published.push({ message, store: als?.getStore() });
      return transport.publish(message);
    },
    publishMany(messages) {
      for (const message of messages) published.push({ message, store: als?.getStore() });
      return transport.publishMany(messages);
    },
    consume: transport.consume.bind(transport),
    deadLetter: transport.deadLetter.bind(transport),
    dead: transport.dead,
    control: transport.control,
    retain: transport.retain.bind(transport),
    close: transport.close.bind(transport),
  };
  return { transport: wrapped, published };
}

function captureLogger(): {
  logger: Logger;
  records: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
} {
  const records: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      records.push({ level, message, fields });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, records };
}

const pairs = transportPairs('diag');
let unsubscribe: (() => void) | undefined;
afterEach(() => {
  unsubscribe?.();
  unsubscribe = undefined;
});

for (const [kind, make] of Object.entries(pairs)) {
  describe(`diagnostics channels: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    async function start(registry: TaskRegistry, options: { als?: AsyncLocalStorage<string>; attempts?: number } = {}) {
      const env = make(broker);
      const submitter = recording(env.submitter, options.als);
      const queue = createQueue({
        registry,
        transport: submitter.transport,
        defaults: { queue: env.queueName, attempts: options.attempts ?? 1, backoff: { type: 'fixed', delay: 1 } },
      });
      const logs = captureLogger();
      const worker = createWorker({
        registry,
        transport: env.consumer,
        queues: [env.queueName],
        logger: logs.logger,
      });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      const completed: CompletedEvent[] = [];
      worker.on('completed', (e) => completed.push(e));
      await worker.start();
      return { queue, worker, env, published: submitter.published, logs, completed };
    }

    it('publishes no event and puts no trace context in the envelope while nobody subscribes', async () => {
      const registry = new TaskRegistry();
      const ran: string[] = [];
      const plain = taskIn(registry, 'diag.plain', async (x: string) => void ran.push(x));
      const { queue, published } = await start(registry);
      expect(tracingChannel(CHANNELS.submit).hasSubscribers).toBe(false);
      await queue.submit(plain, 'a');
      await queue.submitMany(plain, [['b'], ['c']]);
      await until(() => expect(ran.sort()).toEqual(['a', 'b', 'c']));
      for (const { message } of published)
        expect(JSON.parse(message.body.toString('utf8'))).not.toHaveProperty('trace');
    });

    it('describes submit, receive and process; the carrier written at submit reaches the worker, its logs and events', async () => {
      const registry = new TaskRegistry();
      const task = taskIn(registry, 'diag.hello', async (name: string) => `hello ${name}`);
      const sub = subscribe({ onSubmitStart: (e) => Object.assign(e.carrier, { traceparent: TRACEPARENT }) });
      unsubscribe = sub.unsubscribe;
      const { queue, env, published, completed } = await start(registry);
      const handle = await queue.submit(task, 'ada');
      await until(() => expect(sub.recorded.processed).toHaveLength(1));

      const destination = kind === 'amqp' ? `${broker.prefix}.q.${env.queueName}` : env.queueName;
      const [submit] = sub.recorded.submit;
      expect(submit.tasks).toEqual([
        { id: handle.id, name: 'diag.hello', queue: env.queueName, destination, delayMs: undefined },
      ]);
      expect(submit.deferred).toBe(false);
      expect(submit.transport.kind).toBe(kind);
      // A direct submit's publish is part of its submit event.
      expect(sub.recorded.publish).toHaveLength(0);
      expect(JSON.parse(published[0].message.body.toString('utf8')).trace).toEqual({ traceparent: TRACEPARENT });

      const receive = sub.recorded.receive.find((r) => r.id === handle.id);
      expect(receive).toMatchObject({ verdict: 'run', name: 'diag.hello', carrier: { traceparent: TRACEPARENT } });

      const [processed] = sub.recorded.processed;
      expect(processed.task).toMatchObject({ id: handle.id, name: 'diag.hello', attempt: 1, destination });
      expect(processed.carrier).toEqual({ traceparent: TRACEPARENT });
      expect(processed.outcome).toBe('completed');
      expect(processed.durationMs).toBeGreaterThanOrEqual(0);
      expect(processed.task.dueAt).toBe(processed.task.enqueuedAt);
      await until(() => expect(completed).toHaveLength(1));
      expect(completed[0].traceId).toBe(TRACE_ID);
    });

    it('reports a failed attempt as retried, the last one as dead, each with its error; the dead-letter log has the trace id', async () => {
      const registry = new TaskRegistry();
      const failing = taskIn(registry, 'diag.failing', async () => {
        throw new Error('mail server said no');
      });
      const sub = subscribe({ onSubmitStart: (e) => Object.assign(e.carrier, { traceparent: TRACEPARENT }) });
      unsubscribe = sub.unsubscribe;
      const { queue, logs } = await start(registry, { attempts: 2 });
      const handle = await queue.submit(failing);
      await until(() => expect(sub.recorded.processed).toHaveLength(2));
      expect(sub.recorded.processed.map((e) => [e.task.attempt, e.outcome])).toEqual([
        [1, 'retried'],
        [2, 'dead'],
      ]);
      for (const e of sub.recorded.processed) {
        expect((e.error as Error).message).toBe('mail server said no');
        // Every attempt carries the carrier its submit wrote: retries point at the same creation context.
        expect(e.carrier).toEqual({ traceparent: TRACEPARENT });
      }
      const dead = logs.records.find((r) => r.message.startsWith('task dead-lettered'));
      expect(dead?.fields).toMatchObject({ id: handle.id, task: 'diag.failing', attempt: 2, traceId: TRACE_ID });
    });

    it('a submit in a unit of work is deferred; its commit publishes with each task carrier; a rollback publishes nothing', async () => {
      const registry = new TaskRegistry();
      const ran: string[] = [];
      const task = taskIn(registry, 'diag.deferred', async (x: string) => void ran.push(x));
      let n = 0;
      const sub = subscribe({
        onSubmitStart: (e) =>
          Object.assign(e.carrier, { traceparent: `00-${TRACE_ID}-${String(++n).padStart(16, '0')}-01` }),
      });
      unsubscribe = sub.unsubscribe;
      const { queue } = await start(registry);
      await expect(
        queue.unitOfWork(async () => {
          await queue.submit(task, 'dropped');
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      const handles = await queue.unitOfWork(async () => [
        await queue.submit(task, 'x'),
        await queue.submit(task, 'y'),
      ]);
      await until(() => expect(ran.sort()).toEqual(['x', 'y']));
      expect(sub.recorded.submit.map((e) => e.deferred)).toEqual([true, true, true]);
      expect(sub.recorded.publish).toHaveLength(1);
      expect(sub.recorded.publish[0].tasks.map((t) => [t.id, t.carrier.traceparent])).toEqual([
        [handles[0].id, `00-${TRACE_ID}-0000000000000002-01`],
        [handles[1].id, `00-${TRACE_ID}-0000000000000003-01`],
      ]);
    });

    it('runs the publish and the task inside the context a start subscriber enters', async () => {
      const als = new AsyncLocalStorage<string>();
      const registry = new TaskRegistry();
      const seen: Array<string | undefined> = [];
      const task = taskIn(registry, 'diag.context', async () => void seen.push(als.getStore()));
      const sub = subscribe({
        onSubmitStart: (e) => {
          e.enter = (fn) => als.run('submit-span', fn);
        },
        onProcessStart: (e) => {
          e.enter = (fn) => als.run(`process-span-${e.task.attempt}`, fn);
        },
      });
      unsubscribe = sub.unsubscribe;
      const { queue, published } = await start(registry, { als });
      await queue.submit(task);
      await until(() => expect(seen).toEqual(['process-span-1']));
      expect(published.map((p) => p.store)).toEqual(['submit-span']);
    });

    it('bounds what a subscriber writes to the carrier, and a worker never refuses a message over its trace field', async () => {
      const registry = new TaskRegistry();
      const ran: string[] = [];
      const task = taskIn(registry, 'diag.bounded', async (x: string) => void ran.push(x));
      const sub = subscribe({
        onSubmitStart: (e) => {
          for (let i = 0; i < 20; i++) e.carrier[`k${i}`] = 'v';
          e.carrier.huge = 'x'.repeat(10_000);
          (e.carrier as Record<string, unknown>).number = 42;
        },
      });
      unsubscribe = sub.unsubscribe;
      const { queue, published, env } = await start(registry);
      await queue.submit(task, 'bounded');
      const trace = JSON.parse(published[0].message.body.toString('utf8')).trace as Record<string, string>;
      expect(Object.keys(trace)).toHaveLength(8);
      expect(Object.values(trace).every((v) => v === 'v')).toBe(true);
      // Hand-made messages whose trace field is not an object of strings: run, with an empty carrier.
      for (const [i, bad] of ['a string', [1, 2], { traceparent: 7 }, null].entries()) {
        const id = `01936f0e-0000-7000-8000-00000000000${i}`;
        const body = { v: 1, id, task: 'diag.bounded', args: [`bad-${i}`], meta: {}, ts: Date.now(), trace: bad };
        await env.submitter.publish({ id, queue: env.queueName, body: Buffer.from(JSON.stringify(body)), headers: {} });
      }
      await until(() => expect(ran.sort()).toEqual(['bad-0', 'bad-1', 'bad-2', 'bad-3', 'bounded']));
      const handMade = sub.recorded.processed.filter((e) => e.task.id.startsWith('01936f0e'));
      expect(handMade.map((e) => e.carrier)).toEqual([{}, {}, {}, {}]);
    });

    it('reports a malformed message as received with verdict dead and its reason', async () => {
      const registry = new TaskRegistry();
      taskIn(registry, 'diag.any', async () => {});
      const sub = subscribe();
      unsubscribe = sub.unsubscribe;
      const { env } = await start(registry);
      const id = '01936f0e-0000-7000-8000-0000000000ff';
      await env.submitter.publish({ id, queue: env.queueName, body: Buffer.from('{not json'), headers: {} });
      await until(() => expect(sub.recorded.receive.find((r) => r.id === id)).toBeDefined());
      expect(sub.recorded.receive.find((r) => r.id === id)).toMatchObject({
        verdict: 'dead',
        reason: 'malformed-message',
      });
      expect(sub.recorded.process).toHaveLength(0);
    });
  });
}

describe('loggers', () => {
  it('reads the trace id of a W3C traceparent, and nothing from anything else', () => {
    expect(traceIdOf({ traceparent: TRACEPARENT })).toBe(TRACE_ID);
    expect(traceIdOf({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` })).toBeUndefined();
    expect(traceIdOf({ traceparent: 'garbage' })).toBeUndefined();
    expect(traceIdOf(undefined)).toBeUndefined();
  });

  it('takes a pino logger as it is: records are JSON with the fields and the message, an error as err', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const registry = new TaskRegistry();
    taskIn(registry, 'log.task', async () => {});
    const worker = createWorker({ registry, transport: memory(), logger: pino({ level: 'debug' }, sink) });
    worker.logger.warn('task dead-lettered (attempts-exhausted)', {
      id: 'x',
      task: 'log.task',
      attempt: 3,
      traceId: TRACE_ID,
    });
    worker.logger.error('publishing failed', { error: new Error('broker away') });
    await until(() => expect(lines).toHaveLength(2));
    const [first, second] = lines.map((l) => JSON.parse(l));
    expect(first).toMatchObject({
      level: 40,
      msg: 'task dead-lettered (attempts-exhausted)',
      id: 'x',
      attempt: 3,
      traceId: TRACE_ID,
    });
    expect(second).toMatchObject({
      level: 50,
      msg: 'publishing failed',
      err: { message: 'broker away', type: 'Error' },
    });
  });

  it('adapts any fields-first logger with fieldsFirstLogger, and refuses a logger without the four methods', () => {
    const calls: unknown[][] = [];
    const fieldsFirst = {
      debug: (...args: unknown[]) => calls.push(['debug', ...args]),
      info: (...args: unknown[]) => calls.push(['info', ...args]),
      warn: (...args: unknown[]) => calls.push(['warn', ...args]),
      error: (...args: unknown[]) => calls.push(['error', ...args]),
    };
    const logger = fieldsFirstLogger(fieldsFirst);
    logger.info('worker started', { queues: 'default' });
    logger.warn('no fields');
    expect(calls).toEqual([
      ['info', { queues: 'default' }, 'worker started'],
      ['warn', {}, 'no fields'],
    ]);
    const registry = new TaskRegistry();
    expect(() => createWorker({ registry, transport: memory(), logger: { info() {} } as unknown as Logger })).toThrow(
      /logger/,
    );
  });
});
