import { describe, expect, it } from 'vitest';
import {
  createQueue,
  createWorker,
  type DeadEvent,
  memoryResultStore,
  type ResultStore,
  silentLogger,
  TaskRegistry,
  type Worker,
} from '../src/index.js';
import { HEADER } from '../src/adapter.js';
import { connect } from 'amqplib';
import { DELAY_LEVELS, RABBIT_URL, withChannel } from '../../../test-support/rabbit.js';
import { eventually, sleep, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';

// What someone with broker access but no signing key can do with a signed message they captured:
// change its attempt header, publish it to another queue, publish it again later, strip its delay.
// Each test captures real messages off RabbitMQ with plain amqplib and puts them back the same way.
const KEY = 'binding-test-signing-key-0123456789abcdef';

/** A message as it sat on the broker. */
interface Captured {
  readonly body: Buffer;
  readonly headers: Record<string, unknown>;
  readonly messageId: string;
}

/** Takes the next message off a physical queue (it is gone afterwards). */
function capture(physical: string): Promise<Captured> {
  return withChannel(async (channel) => {
    const message = await channel.get(physical, { noAck: true });
    if (message === false) throw new Error(`no message in ${physical}`);
    return {
      body: message.content,
      headers: { ...message.properties.headers },
      messageId: String(message.properties.messageId),
    };
  });
}

/** Publishes a captured message, with changed headers, straight to a physical queue: no taskq code on this side. */
async function inject(
  physical: string,
  message: Captured,
  headers: Record<string, unknown> = message.headers,
): Promise<void> {
  const connection = await connect(RABBIT_URL);
  try {
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(physical, message.body, { persistent: true, headers, messageId: message.messageId });
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
}

describe('signed messages are bound to their attempt, queue, due time and result (RabbitMQ)', () => {
  const { broker, stops } = isolatedPerTest();

  function setup(options: { maxMessageAge?: string | number; store?: ResultStore } = {}) {
    const runs: string[] = [];
    let flakyRuns = 0;
    async function transfer(label: string) {
      runs.push(label);
      return label;
    }
    async function reject(label: string) {
      runs.push(label);
      throw new Error(`refused: ${label}`);
    }
    async function flaky(label: string) {
      runs.push(label);
      if (++flakyRuns < 3) throw new Error(`flaky run ${flakyRuns}`);
    }
    const registry = new TaskRegistry()
      .add('bank.transfer', transfer)
      .add('bank.reject', reject)
      .add('bank.flaky', flaky);
    const [capturing, other] = [broker.queue('capture'), broker.queue('other')];
    const queue = createQueue({
      registry,
      transport: broker.amqp(),
      defaults: { queue: capturing },
      signingKey: KEY,
      store: options.store,
    });
    stops.push(() => queue.close());
    const dead: DeadEvent[] = [];
    const completed: string[] = [];
    let worker: Worker | undefined;
    const start = async () => {
      worker = createWorker({
        registry,
        transport: broker.amqp(),
        queues: [capturing, other],
        signingKeys: KEY,
        concurrency: 1,
        logger: silentLogger,
        ...options,
      });
      worker.on('dead', (event) => dead.push(event));
      worker.on('completed', (event) => completed.push(event.id));
      stops.push(() => (worker as Worker).stop({ timeout: 2_000 }));
      await worker.start();
    };
    /** With concurrency 1, a marker task completing means everything published before it was handled. */
    const drained = async (label: string) => {
      const marker = await queue.submit(transfer, label);
      await waitFor(() => completed.includes(marker.id), label);
    };
    return {
      queue,
      transfer,
      reject,
      flaky,
      runs,
      dead,
      completed,
      start,
      drained,
      capturingQueue: capturing,
      capturing: broker.physical(capturing),
      other: broker.physical(other),
    };
  }

  it('a forged attempt header is refused: not a valid attempt (-40) as malformed, any other attempt than the signed one as a bad signature', async () => {
    const env = setup();
    const once = await env.queue.with({ attempts: 1 }).submit(env.transfer, 'attempts: 1');
    const captured = await capture(env.capturing);
    const thrice = await env.queue.with({ attempts: 3 }).submit(env.transfer, 'attempts: 3');
    const capturedThrice = await capture(env.capturing);
    await env.start();
    await inject(env.capturing, captured, { ...captured.headers, [HEADER.attempt]: -40 });
    await inject(env.capturing, captured, { ...captured.headers, [HEADER.attempt]: 2 });
    await inject(env.capturing, capturedThrice, { ...capturedThrice.headers, [HEADER.attempt]: 2 });
    await waitFor(() => env.dead.length === 3, 'three refused copies');
    // -40 is no attempt number at all; 2 is one, but not the one signed (and, for the task with 1 attempt, out of range
    // too).
    expect(env.dead.map((event) => [event.id, event.reason])).toEqual([
      [once.id, 'malformed-message'],
      [once.id, 'bad-signature'],
      [thrice.id, 'bad-signature'],
    ]);
    expect((env.dead[0].error as Error).message).toContain('x-taskq-attempt');
    // The untouched messages still run, once each.
    await inject(env.capturing, captured);
    await inject(env.capturing, capturedThrice);
    await env.drained('after the forgeries');
    console.log(`[signed attempt] forged copies=3 refused=${env.dead.length} runs=${JSON.stringify(env.runs)}`);
    expect(env.runs).toEqual(['attempts: 1', 'attempts: 3', 'after the forgeries']);
  });

  it('a signed message replayed into another queue is refused; in its own queue it runs', async () => {
    const env = setup();
    const handle = await env.queue.submit(env.transfer, 'for queue capture');
    const captured = await capture(env.capturing);
    await env.start();
    await inject(env.other, captured);
    await waitFor(() => env.dead.length === 1, 'the copy in the other queue refused');
    expect(env.dead[0]).toMatchObject({ id: handle.id, reason: 'bad-signature' });
    await inject(env.capturing, captured);
    await waitFor(() => env.completed.includes(handle.id), 'the message in its own queue');
    console.log(
      `[signed queue] copies=2 (own queue, other queue) runs=${env.runs.length} refused=${env.dead.map((e) => e.reason).join(',')}`,
    );
    expect(env.runs).toEqual(['for queue capture']);
  });

  it('version 3: a signed message published again under another message id is refused (its id is out of the body, the signature covers it); a version-2 signed message still runs', async () => {
    const env = setup();
    const handle = await env.queue.submit(env.transfer, 'bound to its id');
    const captured = await capture(env.capturing);
    expect(JSON.parse(captured.body.toString('utf8'))).not.toHaveProperty('id');
    expect(String(captured.headers[HEADER.signature])).toMatch(/^v3=[0-9a-f]{64}$/);
    const pinned = createQueue({
      registry: new TaskRegistry().add('bank.transfer', env.transfer),
      transport: broker.amqp(),
      defaults: { queue: env.capturingQueue },
      signingKey: KEY,
      envelopeVersion: 2,
    });
    stops.push(() => pinned.close());
    const previous = await pinned.submit(env.transfer, 'signed as the previous release signs');
    const capturedPrevious = await capture(env.capturing);
    expect(String(capturedPrevious.headers[HEADER.signature])).toMatch(/^v2=[0-9a-f]{64}$/);
    await env.start();
    const otherId = '01900000-0000-7000-8000-000000000001';
    await inject(env.capturing, { ...captured, messageId: otherId });
    await waitFor(() => env.dead.length === 1, 'the copy under another id refused');
    expect(env.dead[0]).toMatchObject({ id: otherId, reason: 'bad-signature' });
    await inject(env.capturing, captured);
    await inject(env.capturing, capturedPrevious);
    await env.drained('after the copies');
    expect(env.completed.slice(0, 2).sort()).toEqual([handle.id, previous.id].sort());
    expect(env.runs).toEqual(['bound to its id', 'signed as the previous release signs', 'after the copies']);
  });

  it('maxMessageAge: an old message is dead-lettered as expired, a fresh due header is a bad signature, a delay longer than the age still runs', async () => {
    const env = setup({ maxMessageAge: 1_500 });
    const old = await env.queue.submit(env.transfer, 'captured, replayed late');
    const captured = await capture(env.capturing);
    const delayed = await env.queue.with({ delay: 2_500 }).submit(env.transfer, 'delayed past the max age');
    await env.start();
    await sleep(2_000);
    await inject(env.capturing, captured);
    await inject(env.capturing, captured, { ...captured.headers, [HEADER.due]: Date.now() });
    await waitFor(() => env.dead.length === 2, 'both late copies refused');
    expect(env.dead.map((event) => [event.id, event.reason])).toEqual([
      [old.id, 'expired'],
      [old.id, 'bad-signature'],
    ]);
    expect((env.dead[0].error as Error).message).toMatch(/became due \d+ ms ago, over the worker's limit of 1500 ms/);
    // The age of a delayed task counts from when it became due, not from when it was submitted.
    await waitFor(() => env.completed.includes(delayed.id), 'the delayed task');
    console.log(
      `[signed age] late copies=2 refused=${env.dead.map((e) => e.reason).join(',')} delayed 2.5 s with max age 1.5 s ran=${env.completed.includes(delayed.id)}`,
    );
    expect(env.runs).toEqual(['delayed past the max age']);
  });

  it('a signed delayed task whose delay was stripped does not run before it is due', async () => {
    const env = setup();
    const submittedAt = Date.now();
    const handle = await env.queue.with({ delay: 3_000 }).submit(env.transfer, 'not before its time');
    const due = submittedAt + 3_000;
    // It waits in a delay level of the broker; take it from there and put it straight on the work queue.
    const captured = await withChannel(async (channel) => {
      for (let level = 0; level < DELAY_LEVELS; level++) {
        const message = await channel.get(`${broker.prefix}.delay.${level}`, { noAck: true });
        if (message !== false)
          return {
            body: message.content,
            headers: { ...message.properties.headers },
            messageId: String(message.properties.messageId),
          };
      }
      throw new Error('the delayed message is in no delay level');
    });
    await env.start();
    await inject(env.capturing, captured);
    await waitFor(() => env.completed.includes(handle.id), 'the task, once due');
    const ranAt = Date.now();
    console.log(`[signed delay] stripped delay: ran ${ranAt - due} ms after its due time (negative: early)`);
    expect(ranAt).toBeGreaterThanOrEqual(due - 1_000);
    expect(env.runs).toEqual(['not before its time']);
  });

  it('the worker signs the retries it publishes: a signed task failing twice runs its three attempts', async () => {
    const env = setup();
    const handle = await env.queue
      .with({ attempts: 3, backoff: { type: 'fixed', delay: 50 } })
      .submit(env.flaky, 'flaky');
    await env.start();
    await waitFor(() => env.completed.includes(handle.id), 'the third attempt');
    expect(env.runs).toEqual(['flaky', 'flaky', 'flaky']);
    expect(env.dead).toEqual([]);
  });

  it('a signed letter the broker dead-lettered itself (no retry signature) goes back as it was and still verifies', async () => {
    const env = setup();
    const handle = await env.queue.submit(env.transfer, 'dead-lettered by the broker');
    const captured = await capture(env.capturing);
    // What a quorum queue writes when a message hit its delivery limit.
    await inject(`${broker.prefix}.dead`, captured, {
      ...captured.headers,
      'x-death': [{ reason: 'delivery_limit', queue: env.capturing, count: 1 }],
    });
    await env.start();
    const transport = broker.amqp();
    expect(await transport.dead.retry(handle.id)).toBe(1);
    await waitFor(() => env.completed.includes(handle.id), 'the letter sent back');
    expect(env.dead).toEqual([]);
    expect(env.runs).toEqual(['dead-lettered by the broker']);
  });

  it('a replay of a task the result store knows as succeeded or dead does not run it; taskq dead retry runs a dead one once more', async () => {
    const store = memoryResultStore();
    const env = setup({ store });
    const succeeded = await env.queue.submit(env.transfer, 'succeeds once');
    const capturedSucceeded = await capture(env.capturing);
    const dead = await env.queue.submit(env.reject, 'dies once');
    const capturedDead = await capture(env.capturing);
    await env.start();
    await inject(env.capturing, capturedSucceeded);
    await inject(env.capturing, capturedDead);
    await waitFor(() => env.dead.length === 1, 'the rejecting task dead-lettered');
    await env.drained('first marker');
    expect((await env.queue.status(succeeded.id))?.state).toBe('succeeded');
    expect((await env.queue.status(dead.id))?.state).toBe('dead');

    // The attacker's replays: copies of both, as captured.
    await inject(env.capturing, capturedSucceeded);
    await inject(env.capturing, capturedDead);
    await env.drained('second marker');
    expect(env.runs).toEqual(['succeeds once', 'dies once', 'first marker', 'second marker']);
    expect(await env.queue.status(succeeded.id)).toMatchObject({ state: 'succeeded', deliveries: 1 });
    expect(await env.queue.status(dead.id)).toMatchObject({ state: 'dead', deliveries: 1 });

    // The operator's retry of the dead letter runs it again, once: the letter carries the signature of that retry.
    const transport = broker.amqp();
    await eventually(async () => (await transport.dead.count()) === 1, 'the dead letter stored');
    expect(await transport.dead.retry(dead.id)).toBe(1);
    await waitFor(() => env.dead.length === 2, 'the retried task dead again');
    expect(env.dead[1]).toMatchObject({ id: dead.id, reason: 'attempts-exhausted' });
    await inject(env.capturing, capturedDead);
    await env.drained('third marker');
    console.log(
      `[signed replay] replays of a succeeded and a dead task=2 run=0; dead retry runs=1; runs=${JSON.stringify(env.runs)}`,
    );
    expect(env.runs).toEqual([
      'succeeds once',
      'dies once',
      'first marker',
      'second marker',
      'dies once',
      'third marker',
    ]);
    expect(await env.queue.status(dead.id)).toMatchObject({ state: 'dead', deliveries: 2 });
  });
});
