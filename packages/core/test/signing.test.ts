import { createHmac, randomUUID } from 'node:crypto';
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
import { HEADER } from '../src/adapter.js';
import { signMessage, verifyMessage } from '../src/signing.js';
import { eventually, waitFor } from '../../../test-support/wait.js';
import { isolatedPerTest } from './support/isolated.js';
import type { AmqpTestBroker } from './support/rabbit.js';

const OLD_KEY = 'old-signing-key-0123456789abcdef0123456789';
const NEW_KEY = Buffer.from('new-signing-key-fedcba9876543210fedcba9876', 'utf8');
const STRANGER_KEY = 'stranger-key-000000000000000000000000000000';

const transports: Record<
  string,
  (broker: AmqpTestBroker) => { submitter: () => Transport; consumer: Transport; queueName: string }
> = {
  memory: (broker) => {
    const shared = broker.track(memory());
    return { submitter: () => shared, consumer: shared, queueName: broker.queue('signed') };
  },
  amqp: (broker) => ({ submitter: () => broker.amqp(), consumer: broker.amqp(), queueName: broker.queue('signed') }),
};

function hmac(body: Buffer, key: string | Buffer): string {
  return createHmac('sha256', key).update(body).digest('hex');
}

for (const [kind, make] of Object.entries(transports)) {
  describe(`signing: ${kind}`, () => {
    const { broker, stops } = isolatedPerTest();

    it('runs only envelopes signed with an accepted key (rotation: old and new); unsigned, forged and tampered ones are dead-lettered, never run', async () => {
      const env = make(broker);
      const ran: string[] = [];
      async function transfer(label: string) {
        ran.push(label);
      }
      const registry = new TaskRegistry().add('bank.transfer', transfer);
      const queueFor = (signingKey?: string | Buffer) => {
        const queue = createQueue({
          registry,
          transport: env.submitter(),
          defaults: { queue: env.queueName },
          signingKey,
        });
        stops.push(() => queue.close());
        return queue;
      };
      // The worker is mid-rotation: it accepts the new key and, for a while, the old one.
      const worker = createWorker({
        registry,
        transport: env.consumer,
        queues: [env.queueName],
        signingKeys: [NEW_KEY, OLD_KEY],
        concurrency: 1,
      });
      stops.push(() => worker.stop({ timeout: 2_000 }));
      const dead: DeadEvent[] = [];
      worker.on('dead', (event) => dead.push(event));
      const completed: string[] = [];
      worker.on('completed', (event) => completed.push(event.id));
      await worker.start();

      const signedNew = await queueFor(NEW_KEY).submit(transfer, 'signed with the new key');
      const signedOld = await queueFor(OLD_KEY).submit(transfer, 'signed with the old key');
      await waitFor(() => completed.length === 2, 'both signed tasks');
      expect(completed).toEqual([signedNew.id, signedOld.id]);

      const unsigned = await queueFor(undefined).submit(transfer, 'unsigned');
      const stranger = await queueFor(STRANGER_KEY).submit(transfer, 'signed with a key the worker does not hold');
      // Forgeries on the raw transport: a made-up signature, a real signature over another body, a signature header
      // that is not hex.
      const body = (label: string) =>
        Buffer.from(
          JSON.stringify({ v: 1, id: randomUUID(), task: 'bank.transfer', args: [label], meta: {}, ts: Date.now() }),
        );
      const forgedBody = body('forged signature');
      const tamperedBody = body('tampered: amount changed after signing');
      const garbageBody = body('garbage signature header');
      const raw = env.submitter();
      await raw.publish({
        id: randomUUID(),
        queue: env.queueName,
        body: forgedBody,
        headers: { [HEADER.signature]: 'f'.repeat(64) },
      });
      await raw.publish({
        id: randomUUID(),
        queue: env.queueName,
        body: tamperedBody,
        headers: { [HEADER.signature]: hmac(body('original'), NEW_KEY) },
      });
      await raw.publish({
        id: randomUUID(),
        queue: env.queueName,
        body: garbageBody,
        headers: { [HEADER.signature]: '<script>' },
      });
      await waitFor(() => dead.length === 5, 'five refused messages');
      expect(dead.map((event) => event.reason)).toEqual(Array(5).fill('bad-signature'));
      expect(dead.slice(0, 2).map((event) => event.id)).toEqual([unsigned.id, stranger.id]);
      expect(ran).toEqual(['signed with the new key', 'signed with the old key']);

      // The worker goes on with signed work, and the refused messages are on record.
      const after = await queueFor(OLD_KEY).submit(transfer, 'after the forgeries');
      await waitFor(() => completed.includes(after.id), 'the signed task after the forgeries');
      await eventually(async () => (await env.consumer.dead.count()) === 5, 'five dead letters');
      const letters = await env.consumer.dead.list();
      expect(
        letters.every(
          (letter) =>
            letter.reason === 'bad-signature' &&
            letter.error === 'the message is not signed with an accepted signing key',
        ),
      ).toBe(true);
      expect(ran).toEqual(['signed with the new key', 'signed with the old key', 'after the forgeries']);
      console.log(`[signing ${kind}] signed run=3 unsigned/forged/tampered refused=${dead.length} run among them=0`);
    });

    it('refuses signing keys shorter than 32 bytes, naming the option but not the key', () => {
      const registry = new TaskRegistry();
      const transport = make(broker).consumer;
      const short = 'short-secret-key';
      const queueError = (() => {
        try {
          createQueue({ registry, transport, signingKey: short });
        } catch (error) {
          return error;
        }
      })();
      expect(errorCode(queueError)).toBe('TASKQ_INVALID_OPTION');
      expect((queueError as Error).message).toContain('signingKey');
      expect((queueError as Error).message).not.toContain(short);
      expect(() => createWorker({ registry, transport, signingKeys: [NEW_KEY, short] })).toThrow(/signingKeys\[1\]/);
    });
  });
}

describe('signature schemes', () => {
  const key = Buffer.from(NEW_KEY);
  const body = Buffer.from('{"v":3,"task":"bank.transfer","args":[1]}');
  const id = '01900000-0000-7000-8000-000000000001';
  const fields = { queue: 'payments', attempt: 1, deadRetries: 0, due: 1_700_000_000_000 };

  it('a v3= signature binds the id and verifies only with it; a v2= one never verifies a message whose id is out of its body, and the reverse', () => {
    const v3 = signMessage(body, { id, ...fields }, key);
    const v2 = signMessage(body, fields, key);
    expect(v3).toMatch(/^v3=[0-9a-f]{64}$/);
    expect(v2).toMatch(/^v2=[0-9a-f]{64}$/);
    expect(verifyMessage(body, { id, ...fields }, v3, [key])).toBe(true);
    expect(verifyMessage(body, { id: '01900000-0000-7000-8000-000000000002', ...fields }, v3, [key])).toBe(false);
    // The scheme is the one the message's version calls for, whatever the signature says.
    expect(verifyMessage(body, { id, ...fields }, v2, [key])).toBe(false);
    expect(verifyMessage(body, fields, v3, [key])).toBe(false);
    expect(verifyMessage(body, fields, v2, [key])).toBe(true);
    // Relabelled: the same MAC under the other prefix does not verify either.
    expect(verifyMessage(body, fields, `v2=${v3.slice(3)}`, [key])).toBe(false);
  });
});
