import { randomUUID } from 'node:crypto';
import { tracingChannel } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import type { ReceiveEvent } from '../src/diagnostics.js';
import {
  createQueue,
  createWorker,
  type DeadEvent,
  errorCode,
  type Logger,
  TaskRegistry,
  type Worker,
  type WorkerOptions,
} from '../src/index.js';
import { gate, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import { withChannel } from '../../../test-support/rabbit.js';

interface Line {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields?: Record<string, unknown>;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, message, fields });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

// Two applications, written apart, that picked the same prefix: no task in common.
async function sendMail(to: string) {
  return `mailed ${to}`;
}
async function chargeCard(cents: number) {
  return cents;
}
const mailApp = new TaskRegistry().add('mail.send', sendMail);
const billingApp = new TaskRegistry().add('billing.charge', chargeCard);

describe('one prefix per application: a worker notices another application on its queue (RabbitMQ)', () => {
  const { broker, stops } = isolatedPerTest();

  function worker(options: Omit<WorkerOptions, 'transport'>): Worker {
    const w = createWorker({ transport: broker.amqp(), ...options });
    stops.push(() => w.stop({ timeout: 5_000 }));
    return w;
  }

  async function consumers(queue: string): Promise<number> {
    return withChannel(async (channel) => (await channel.checkQueue(broker.physical(queue))).consumerCount);
  }

  it('refuses to start next to a worker of another task set on its queue, and the first one says so too', async () => {
    const queue = broker.queue('clash');
    const first = capture();
    const mail = worker({ registry: mailApp, queues: [queue], logger: first.logger });
    await mail.start();

    const second = capture();
    const billing = worker({ registry: billingApp, queues: [queue], logger: second.logger });
    const refusal = await billing.start().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(errorCode(refusal)).toBe('TASKQ_PREFIX_CLASH');
    expect(String((refusal as Error).message)).toContain(`pid ${process.pid}`);
    expect(String((refusal as Error).message)).toContain('own prefix');
    expect(billing.state).toBe('stopped');
    // It never consumed: the first application keeps its queue to itself.
    expect(await consumers(queue)).toBe(1);
    // The running worker heard the newcomer's hello and logged the clash at error level.
    await waitFor(
      () => first.lines.some((line) => line.level === 'error' && line.message.includes('PREFIX CLASH')),
      'the running worker to report the clash',
    );
    console.log(`[prefix clash] second worker refused: ${(refusal as Error).message}`);
  });

  it('judges the task set the registry has at start(), not when the worker was built (Nest registers @Task() methods in between)', async () => {
    const queue = broker.queue('late-registry');
    const running = worker({ registry: new TaskRegistry().add('mail.send', sendMail), queues: [queue] });
    await running.start();

    // Built with an empty registry, filled before start(), as a framework's task discovery does.
    const late = new TaskRegistry();
    const second = capture();
    const lateWorker = worker({ registry: late, queues: [queue], logger: second.logger });
    late.add('mail.send', sendMail);
    await lateWorker.start();
    expect(lateWorker.state).toBe('running');
    expect(await consumers(queue)).toBe(2);
    expect(second.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it("with onForeignConsumer 'warn' both run, each logs the clash, and neither dead-letters the other's tasks", async () => {
    const queue = broker.queue('shared');
    const mailLog = capture();
    const billingLog = capture();
    const mail = worker({ registry: mailApp, queues: [queue], logger: mailLog.logger });
    await mail.start();

    // The billing worker takes one task at a time, and its slot is held: every billing task submitted meanwhile reaches
    // the mail worker first.
    const held = gate();
    let holding = true;
    async function chargeCardHeld(cents: number) {
      if (holding) {
        holding = false;
        await held.promise;
      }
      return cents;
    }
    const billingRegistry = new TaskRegistry().add('billing.charge', chargeCardHeld);
    const billing = worker({
      registry: billingRegistry,
      queues: [queue],
      concurrency: 1,
      onForeignConsumer: 'warn',
      logger: billingLog.logger,
    });
    await billing.start();
    expect(billingLog.lines.some((line) => line.level === 'error' && line.message.includes('PREFIX CLASH'))).toBe(true);
    expect(billingLog.lines.find((line) => line.message.includes('PREFIX CLASH'))?.fields).toMatchObject({
      onlyHere: 'billing.charge',
      onlyThere: 'mail.send',
      queues: queue,
    });

    const dead: DeadEvent[] = [];
    const completed = { mail: 0, billing: 0 };
    for (const [w, name] of [
      [mail, 'mail'],
      [billing, 'billing'],
    ] as const) {
      w.on('dead', (event) => dead.push(event));
      w.on('completed', () => completed[name]++);
    }
    const mailQueue = createQueue({ registry: mailApp, transport: broker.amqp(), defaults: { queue } });
    const billingQueue = createQueue({ registry: billingRegistry, transport: broker.amqp(), defaults: { queue } });
    stops.push(
      () => mailQueue.close(),
      () => billingQueue.close(),
    );
    // What a tracer sees at receive: a task passed back for the other application is 'later', never 'dead'.
    const received: ReceiveEvent[] = [];
    const receiving = { end: (event: unknown) => void received.push(event as ReceiveEvent) };
    tracingChannel('taskq:receive').subscribe(receiving as never);
    stops.push(async () => tracingChannel('taskq:receive').unsubscribe(receiving as never));
    await billingQueue.submit(chargeCardHeld, 0);
    await waitFor(() => !holding, 'the billing worker to hold its one slot');
    await billingQueue.submitMany(
      chargeCardHeld,
      Array.from({ length: 10 }, (_, i) => [i + 1] as [number]),
    );
    await mailQueue.submitMany(
      sendMail,
      Array.from({ length: 10 }, (_, i) => [`user${i}@example.com`] as [string]),
    );
    await waitFor(
      () => mailLog.lines.filter((line) => line.message.includes('passed back')).length >= 10,
      'the mail worker to pass the billing tasks back',
    );
    held.open();
    await waitFor(
      () => completed.mail === 10 && completed.billing === 11,
      `every task to run in its own application (mail ${completed.mail}/10, billing ${completed.billing}/11)`,
      40_000,
    );

    const passes = mailLog.lines.filter((line) => line.message.includes('passed back')).length;
    const deadLetters = await broker.amqp().dead.count();
    console.log(
      `[prefix clash, warn] mail completed=${completed.mail}/10 billing completed=${completed.billing}/11 passed-back=${passes} dead=${dead.length} dead-letter-queue=${deadLetters}`,
    );
    expect(dead).toEqual([]);
    expect(deadLetters).toBe(0);
    expect(received.filter((event) => event.verdict === 'dead')).toEqual([]);
    // The mail worker's passes are the billing tasks it saw (the billing worker may pass a mail task back too).
    expect(received.filter((event) => event.verdict === 'later' && event.name === 'billing.charge').length).toBe(
      passes,
    );
    expect(new Set(received.map((event) => event.destination))).toEqual(new Set([broker.physical(queue)]));
    expect(mailLog.lines.some((line) => line.level === 'error' && line.message.includes('PREFIX CLASH'))).toBe(true);
  });

  it('dead-letters a task passed back too many times with a reason naming the clash, not as unknown', async () => {
    const queue = broker.queue('bounded');
    const mailLog = capture();
    const mail = worker({ registry: mailApp, queues: [queue], logger: mailLog.logger });
    await mail.start();
    const held = gate();
    const holder = new TaskRegistry().add('billing.charge', async () => held.promise);
    const billing = worker({
      registry: holder,
      queues: [queue],
      concurrency: 1,
      onForeignConsumer: 'warn',
      logger: capture().logger,
    });
    stops.push(async () => held.open());
    await billing.start();
    const dead: DeadEvent[] = [];
    mail.on('dead', (event) => dead.push(event));
    const transport = broker.amqp();
    await transport.publish({
      id: randomUUID(),
      queue,
      body: Buffer.from(
        JSON.stringify({ v: 1, id: randomUUID(), task: 'billing.charge', args: [1], meta: {}, ts: Date.now() }),
      ),
      headers: {},
    });
    // The billing worker's one slot is now taken; this one, already passed back 20 times, reaches the mail worker.
    await waitFor(() => billing.active === 1, 'the billing worker to hold its slot');
    await transport.publish({
      id: randomUUID(),
      queue,
      body: Buffer.from(
        JSON.stringify({ v: 1, id: randomUUID(), task: 'billing.charge', args: [2], meta: {}, ts: Date.now() }),
      ),
      headers: { 'x-taskq-passed': 20 },
    });
    await waitFor(() => dead.length === 1, 'the over-passed task to be dead-lettered');
    expect(dead[0].reason).toBe('prefix-clash');
    expect(errorCode(dead[0].error)).toBe('TASKQ_PREFIX_CLASH');
    expect(String((dead[0].error as Error).message)).toContain('passed back 20 times');
    const [letter] = await transport.dead.list();
    expect(letter).toMatchObject({ reason: 'prefix-clash', task: 'billing.charge' });
  });

  it('starts next to another version of its own task set (a rolling deploy) and takes the tasks only it has', async () => {
    const queue = broker.queue('deploy');
    async function welcome(name: string) {
      return name;
    }
    async function survey(name: string) {
      return name;
    }
    const v1 = new TaskRegistry().add('users.welcome', welcome);
    const v2 = new TaskRegistry().add('users.welcome', welcome).add('users.survey', survey);
    const oldLog = capture();
    const newLog = capture();
    const old = worker({ registry: v1, queues: [queue], logger: oldLog.logger });
    await old.start();
    const next = worker({ registry: v2, queues: [queue], logger: newLog.logger });
    await next.start();
    expect(newLog.lines.some((line) => line.level === 'warn' && line.message.includes('another version'))).toBe(true);
    expect(newLog.lines.some((line) => line.level === 'error')).toBe(false);

    const dead: DeadEvent[] = [];
    let surveys = 0;
    old.on('dead', (event) => dead.push(event));
    next.on('dead', (event) => dead.push(event));
    next.on('completed', (event) => {
      if (event.name === 'users.survey') surveys++;
    });
    const submitter = createQueue({ registry: v2, transport: broker.amqp(), defaults: { queue } });
    stops.push(() => submitter.close());
    await submitter.submitMany(
      survey,
      Array.from({ length: 8 }, (_, i) => [`u${i}`] as [string]),
    );
    await waitFor(() => surveys === 8, `the new version to run every survey (${surveys}/8)`, 40_000);
    expect(dead).toEqual([]);
  });

  it('starts without waiting when it is alone on its queues, and logs its queues, concurrency and prefix', async () => {
    const queue = broker.queue('alone');
    const log = capture();
    const w = worker({ registry: mailApp, queues: [queue], concurrency: 3, logger: log.logger });
    await w.start();
    const started = log.lines.find((line) => line.message === 'worker started');
    expect(started).toMatchObject({
      level: 'info',
      fields: { queues: queue, concurrency: 3, prefix: broker.prefix, transport: 'amqp' },
    });
    expect(log.lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);
  });

  it('ignores malformed and hostile announcements: an unknown task is still dead-lettered at once as unknown-task', async () => {
    const queue = broker.queue('hostile');
    const log = capture();
    const w = worker({ registry: mailApp, queues: [queue], logger: log.logger });
    await w.start();
    const card = {
      instance: randomUUID(),
      queues: [queue],
      fingerprint: 'ab'.repeat(16),
      tasks: ['billing.charge'],
      pid: 1,
    };
    const announcements = [
      'not json',
      JSON.stringify({ taskq: 'presence', v: 1, kind: 'hello', card: { ...card, host: 'evil\u001b[2Jhost' } }),
      JSON.stringify({ taskq: 'presence', v: 1, kind: 'hello', card: { ...card, host: 'h', queues: ['../../etc'] } }),
      JSON.stringify({
        taskq: 'presence',
        v: 1,
        kind: 'here',
        card: { ...card, host: 'h', instance: 'amq.gen-not-an-instance' },
      }),
      JSON.stringify({ taskq: 'other', kind: 'hello', card: { ...card, host: 'h' } }),
    ];
    await withChannel(async (channel) => {
      for (const text of announcements) channel.publish(`${broker.prefix}.control`, 'presence', Buffer.from(text));
    });
    const dead: DeadEvent[] = [];
    w.on('dead', (event) => dead.push(event));
    await broker.amqp().publish({
      id: randomUUID(),
      queue,
      body: Buffer.from(
        JSON.stringify({ v: 1, id: randomUUID(), task: 'billing.charge', args: [], meta: {}, ts: Date.now() }),
      ),
      headers: {},
    });
    await waitFor(() => dead.length === 1, 'the unknown task to be dead-lettered');
    expect(dead[0].reason).toBe('unknown-task');
    expect(
      log.lines.filter((line) => line.level === 'warn' || line.level === 'error').map((line) => line.message),
    ).toEqual(['task dead-lettered (unknown-task)']);
  });

  it('is invalid with any policy but refuse or warn', () => {
    expect(() =>
      createWorker({ registry: mailApp, transport: broker.amqp(), onForeignConsumer: 'ignore' as 'warn' }),
    ).toThrow(/onForeignConsumer/);
  });
});
