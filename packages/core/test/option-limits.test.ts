import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  memory,
  memoryResultStore,
  type SubmitOptions,
  type TaskOptions,
  TaskRegistry,
  type Transport,
} from '../src/index.js';
import type { OutgoingMessage } from '../src/adapter.js';
import { MAX_DELAY_MS, MAX_KEY_LENGTH, MAX_PREFIX_LENGTH, MAX_QUEUE_NAME_LENGTH } from '../src/task-options.js';
import { deletePrefix } from '../../../test-support/rabbit.js';
import { waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest, transportPairs } from './support/isolated.js';
import { testAmqp } from './support/rabbit.js';

const DAY = 86_400_000;

async function noop(_label?: string) {}

/**
 * Options out of the limits the transports enforce: each must be refused where it is given, naming the option and its
 * value.
 */
const refused: Array<{ name: string; options: SubmitOptions; option: string; shows: string }> = [
  { name: "delay '40d' (the issue)", options: { delay: '40d' }, option: 'delay', shows: '"40d"' },
  {
    name: 'delay one ms over the ladder',
    options: { delay: MAX_DELAY_MS + 1 },
    option: 'delay',
    shows: String(MAX_DELAY_MS + 1),
  },
  { name: 'at 40 days ahead', options: { at: new Date(Date.now() + 40 * DAY) }, option: 'at', shows: 'about 31 days' },
  {
    name: 'a fixed backoff of 40 days',
    options: { backoff: { type: 'fixed', delay: '40d' } },
    option: 'backoff.delay',
    shows: '"40d"',
  },
  {
    name: 'an exponential maxDelay of 40 days',
    options: { backoff: { type: 'exponential', delay: 1_000, maxDelay: '40d' } },
    option: 'backoff.maxDelay',
    shows: '"40d"',
  },
  { name: 'timeout 0', options: { timeout: 0 }, option: 'timeout', shows: 'got 0' },
  { name: 'priority 10', options: { priority: 10 }, option: 'priority', shows: 'got 10' },
  { name: 'priority 1.5', options: { priority: 1.5 }, option: 'priority', shows: 'got 1.5' },
  { name: 'attempts 0', options: { attempts: 0 }, option: 'attempts', shows: 'got 0' },
  {
    name: 'a queue name one character too long',
    options: { queue: 'q'.repeat(MAX_QUEUE_NAME_LENGTH + 1) },
    option: 'queue',
    shows: `(${MAX_QUEUE_NAME_LENGTH + 1} characters)`,
  },
  { name: 'a queue name with a space', options: { queue: 'mail queue' }, option: 'queue', shows: '"mail queue"' },
  {
    name: 'a key one character too long',
    options: { key: 'k'.repeat(MAX_KEY_LENGTH + 1) },
    option: 'key',
    shows: `${MAX_KEY_LENGTH + 1} characters`,
  },
  { name: 'an empty key', options: { key: '' }, option: 'key', shows: '0 characters' },
];

/** Every place options enter: a submit view, the queue's and the worker's defaults, a task's registration. */
const entryPoints: Record<string, { where: string; give: (options: SubmitOptions) => unknown }> = {
  'queue.with().submit()': { where: 'with', give: (options) => withSubmit(options) },
  'queue.with().submitMany()': { where: 'with', give: (options) => withSubmit(options, true) },
  'createQueue({ defaults })': {
    where: 'defaults',
    give: (defaults) => createQueue({ registry: new TaskRegistry(), transport: memory(), defaults }),
  },
  'createWorker({ defaults })': {
    where: 'defaults',
    give: (defaults) =>
      createWorker({ registry: new TaskRegistry(), transport: memory(), defaults: defaults as TaskOptions }),
  },
  'registry.add(id, fn, options)': {
    where: 'tasks["limits.noop"]',
    give: (options) => new TaskRegistry().add('limits.noop', noop, options as TaskOptions),
  },
};

/** What a submit through `with(options)` does: a task that was published to nothing, or the refusal. */
async function withSubmit(options: SubmitOptions, many = false): Promise<void> {
  const registry = new TaskRegistry().add('limits.noop', noop);
  const transport = memory();
  const queue = createQueue({ registry, transport });
  try {
    const view = queue.with(options);
    if (many) await view.submitMany(noop, [['a'], ['b']]);
    else await view.submit(noop, 'a');
    throw new Error(`submitted with ${JSON.stringify(options)}`);
  } finally {
    await queue.close();
  }
}

describe('task options are checked where they are given, with the limits the transports enforce at publish', () => {
  for (const [entry, { where, give }] of Object.entries(entryPoints)) {
    it.each(refused)(
      `${entry} refuses $name with InvalidOptionError naming the option and its value`,
      async ({ options, option, shows }) => {
        let error: unknown;
        try {
          await give(options);
        } catch (e) {
          error = e;
        }
        expect((error as { code?: string })?.code, `${entry} accepted ${JSON.stringify(options)}`).toBe(
          'TASKQ_INVALID_OPTION',
        );
        expect((error as { option: string }).option).toBe(`${where}.${option}`);
        expect((error as Error).message).toContain(shows);
      },
    );
  }

  it('accepts every limit itself: the longest delay, `at` 30 days ahead, the longest queue name and key, priority 9, a 25-day timeout', async () => {
    const registry = new TaskRegistry().add('limits.noop', noop);
    const transport = memory();
    const queue = createQueue({ registry, transport, store: memoryResultStore() });
    for (const options of [
      { delay: MAX_DELAY_MS },
      { at: new Date(Date.now() + 30 * DAY) },
      { queue: 'q'.repeat(MAX_QUEUE_NAME_LENGTH) },
      { key: 'k'.repeat(MAX_KEY_LENGTH) },
      { priority: 9 },
      { timeout: '25d' },
      { backoff: { type: 'exponential', delay: 1_000, maxDelay: MAX_DELAY_MS } },
    ] satisfies SubmitOptions[]) {
      await expect(queue.with(options).submit(noop), JSON.stringify(options)).resolves.toBeDefined();
    }
    await queue.close();
  });
});

describe.each(Object.entries(transportPairs('limits')))(
  'submit and the %s transport can never disagree',
  (kind, make) => {
    const { broker } = isolatedPerTest();

    it('a message is refused at publish exactly when its options are refused at submit', async () => {
      const env = make(broker);
      const message = (over: Partial<OutgoingMessage>): OutgoingMessage => ({
        id: randomUUID(),
        queue: env.queueName,
        body: Buffer.from('{}'),
        headers: {},
        ...over,
      });
      const tooLong = 'q'.repeat(MAX_QUEUE_NAME_LENGTH + 1);
      const cases: Array<[SubmitOptions, Partial<OutgoingMessage>]> = [
        [{ delay: MAX_DELAY_MS }, { delayMs: MAX_DELAY_MS }],
        [{ delay: MAX_DELAY_MS + 1 }, { delayMs: MAX_DELAY_MS + 1 }],
        [{ priority: 9 }, { priority: 9 }],
        [{ priority: 10 }, { priority: 10 }],
        [{ queue: tooLong }, { queue: tooLong }],
        [{ queue: 'bad name' }, { queue: 'bad name' }],
      ];
      const queue = createQueue({ registry: new TaskRegistry().add('limits.noop', noop), transport: memory() });
      const verdicts: string[] = [];
      for (const [options, over] of cases) {
        const atSubmit = await queue
          .with(options)
          .submit(noop)
          .then(
            () => 'accepted',
            (error: unknown) => (error as { code?: string }).code,
          );
        const atPublish = await env.submitter.publish(message(over)).then(
          () => 'accepted',
          (error: unknown) => (error as { code?: string }).code,
        );
        verdicts.push(`${JSON.stringify(options).slice(0, 40)}: submit ${atSubmit}, publish ${atPublish}`);
        expect(atPublish, JSON.stringify(options)).toBe(atSubmit);
      }
      console.log(`[limits] ${kind} transport vs submit:\n  ${verdicts.join('\n  ')}`);
      await queue.close();
    });
  },
);

describe.each(Object.entries(transportPairs('limits')))(
  'the issue: a far delay inside a unit of work (%s)',
  (_kind, make) => {
    const { broker, stops } = isolatedPerTest();

    it("with({ delay: '40d' }) is refused at the submit, inside the unit of work; the unit of work commits and publishes the other tasks", async () => {
      const env = make(broker);
      const ran: string[] = [];
      async function record(label: string) {
        ran.push(label);
      }
      const registry = new TaskRegistry().add('limits.record', record);
      const queue = createQueue({ registry, transport: env.submitter, defaults: { queue: env.queueName } });
      const worker = createWorker({ registry, transport: env.consumer, queues: [env.queueName] });
      stops.push(
        () => queue.close(),
        () => worker.stop({ timeout: 2_000 }),
      );
      await worker.start();
      let refusal: unknown;
      await queue.unitOfWork(async () => {
        await queue.submit(record, 'before');
        try {
          await queue.with({ delay: '40d' }).submit(record, 'far');
        } catch (error) {
          refusal = error;
        }
        await queue.submit(record, 'after');
      });
      await waitFor(() => ran.length === 2, 'the two other tasks');
      expect((refusal as { code?: string })?.code).toBe('TASKQ_INVALID_OPTION');
      expect((refusal as Error).message).toContain('"40d"');
      expect(ran.sort()).toEqual(['after', 'before']);
    });
  },
);

describe('queue-name limit on RabbitMQ, under the longest prefix', () => {
  const prefix = `tq-limits-${randomUUID().replace(/-/g, '')}`.padEnd(MAX_PREFIX_LENGTH, 'x');
  const longest = `q${randomUUID().replace(/-/g, '')}`.padEnd(MAX_QUEUE_NAME_LENGTH, 'q');
  const transports: Transport[] = [];
  afterAll(async () => {
    for (const transport of transports) await transport.close();
    await deletePrefix(prefix, [longest]);
  });

  it('the longest accepted queue name takes a delayed task and runs it; one character more is refused by the transport at once, not after its publish timeout', async () => {
    expect(prefix).toHaveLength(MAX_PREFIX_LENGTH);
    const ran: string[] = [];
    async function record(label: string) {
      ran.push(label);
    }
    const registry = new TaskRegistry().add('limits.record', record);
    const submitter = testAmqp({ prefix });
    const consumer = testAmqp({ prefix });
    transports.push(submitter, consumer);
    const queue = createQueue({ registry, transport: submitter });
    const worker = createWorker({ registry, transport: consumer, queues: [longest] });
    await worker.start();
    try {
      // The delayed route is the longest name taskq gives the broker: 28 level words, then `<prefix>.q.<queue>`.
      await queue.with({ queue: longest, delay: 200 }).submit(record, 'delayed');
      await queue.with({ queue: longest }).submit(record, 'now');
      await waitFor(() => ran.length === 2, 'both tasks on the longest queue name', 10_000);
      expect(ran.sort()).toEqual(['delayed', 'now']);

      const started = Date.now();
      const error = await submitter
        .publish({ id: randomUUID(), queue: `${longest}q`, body: Buffer.from('{}'), headers: {}, delayMs: 200 })
        .catch((e: unknown) => e);
      const tookMs = Date.now() - started;
      console.log(
        `[limits] prefix ${prefix.length} chars, queue ${longest.length} chars: ran ${ran.join(', ')}; one more char refused in ${tookMs} ms: ${(error as Error).message}`,
      );
      expect((error as { code?: string }).code).toBe('TASKQ_INVALID_OPTION');
      expect((error as { option?: string }).option).toBe('queue');
    } finally {
      await worker.stop({ timeout: 2_000 });
      await queue.close();
    }
  });
});
