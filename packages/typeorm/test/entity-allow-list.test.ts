import { randomUUID } from 'node:crypto';
import { createQueue, createWorker, type DeadEvent, errorCode, silentLogger, TaskRegistry } from '@taskq/core';
import { type DataSource, EntitySchema } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityCodec, InboxEntity, OutboxEntity, StatusEntity, sqlResultStore, taskTransaction } from '../src/index.js';
import { withChannel } from '../../../test-support/rabbit.js';
import { waitFor } from '../../../test-support/wait.js';
import { ApiToken, Effect, Membership, User } from './fixtures/entities.js';
import { TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';

// A message reaches a worker without passing through any queue.submit(): whoever can publish to
// the queue (or a worker of another app on the same broker) writes the entity reference. These
// messages are published with plain amqplib, as an attacker would.

/** Primary keys of other column types, as EntitySchemas. */
const Device = new EntitySchema<{ id: string }>({
  name: 'Device',
  tableName: 'devices',
  columns: { id: { type: 'uuid', primary: true } },
});
const Slug = new EntitySchema<{ slug: string }>({
  name: 'Slug',
  tableName: 'slugs',
  columns: { slug: { type: 'varchar', length: 20, primary: true } },
});
const Ledger = new EntitySchema<{ id: string }>({
  name: 'Ledger',
  tableName: 'ledgers',
  columns: { id: { type: 'bigint', primary: true } },
});

const broker = testBroker('tqorm');
let db: TestDatabase;
let dataSource: DataSource;

beforeAll(async () => {
  db = await TestDatabase.create('postgres');
  dataSource = await db.dataSource([User, Membership, ApiToken, Effect, Device, Slug, Ledger]);
});
afterAll(async () => {
  await broker.cleanup();
  await db.cleanup();
});

/** What the task was called with: the class and the fields it could read. */
interface Seen {
  className: string;
  fields: Record<string, unknown>;
}

function setup(label: string) {
  const seen: Seen[] = [];
  async function sendWelcomeMail(user: User) {
    seen.push({ className: (user as object).constructor.name, fields: { ...user } });
  }
  // attempts: 3, so a failure that is retried shows as three failed attempts, not one.
  const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail, {
    attempts: 3,
    backoff: { type: 'fixed', delay: 10 },
  });
  const codec = entityCodec(dataSource, { entities: [User, Membership] });
  const transport = broker.amqp();
  const store = sqlResultStore(dataSource);
  const queueName = broker.queue(label);
  const queue = createQueue({ registry, transport, store, codecs: [codec], defaults: { queue: queueName } });
  const worker = createWorker({
    registry,
    transport,
    store,
    codecs: [codec],
    queues: [queueName],
    logger: silentLogger,
  }).use(taskTransaction(dataSource, { logger: silentLogger }));
  const dead: DeadEvent[] = [];
  const failedAttempts = new Map<string, number>();
  const completed: string[] = [];
  worker.on('dead', (event) => dead.push(event));
  worker.on('failed', (event) => failedAttempts.set(event.id, (failedAttempts.get(event.id) ?? 0) + 1));
  worker.on('completed', (event) => completed.push(event.id));
  return { seen, sendWelcomeMail, queue, queueName, worker, store, dead, failedAttempts, completed };
}

/** Publishes a task message straight to the queue; returns its id. */
async function publishRaw(queueName: string, task: string, reference: unknown): Promise<string> {
  const id = randomUUID();
  const envelope = { v: 1, id, task, args: [{ $t: 'typeorm.entity', v: reference }], meta: {}, ts: Date.now() };
  await withChannel(async (channel) => {
    channel.sendToQueue(broker.physical(queueName), Buffer.from(JSON.stringify(envelope)), {
      persistent: true,
      messageId: id,
      contentType: 'application/json',
    });
  });
  return id;
}

interface Letter {
  id: string;
  reason: string;
  error: string;
}

async function deadLetters(ids: readonly string[]): Promise<Map<string, Letter>> {
  const letters = new Map<string, Letter>();
  for (const letter of await broker.drainDead()) {
    if (ids.includes(letter.id)) {
      letters.set(letter.id, {
        id: letter.id,
        reason: String(letter.headers['x-taskq-dead-reason']),
        error: String(letter.headers['x-taskq-error']),
      });
    }
  }
  return letters;
}

describe('the entity codec loads only the entities it lists', () => {
  it('a message naming ApiToken, TaskqStatus, or their table (also schema-qualified) is dead-lettered undecodable-arguments on its first attempt, and the task never runs', async () => {
    const { seen, worker, queueName, store, dead, failedAttempts, completed } = setup('foreign');
    const token = await dataSource.manager.save(
      dataSource.manager.create(ApiToken, { secret: 'tok_live_do_not_leak' }),
    );
    const user = await dataSource.manager.save(
      dataSource.manager.create(User, { name: 'Ann', email: 'ann@example.com' }),
    );
    const statusId = randomUUID();
    await store.enqueued([{ id: statusId, name: 'billing.charge', queue: 'billing', enqueuedAt: new Date() }]);
    await worker.start();

    const schema = db.location;
    const references = [
      { e: 'ApiToken', id: { id: token.id } },
      { e: 'api_tokens', id: { id: token.id } },
      { e: `${schema}.api_tokens`, id: { id: token.id } },
      { e: 'TaskqStatus', id: { id: statusId } },
      { e: 'taskq_status', id: { id: statusId } },
      { e: `${schema}.taskq_status`, id: { id: statusId } },
      { e: 'TaskqOutbox', id: { id: statusId } },
      { e: 'users', id: { id: user.id } },
      { e: `${schema}.users`, id: { id: user.id } },
      { e: '__proto__', id: { id: 1 } },
    ];
    const ids: string[] = [];
    for (const reference of references) ids.push(await publishRaw(queueName, 'mail.sendWelcomeMail', reference));
    // The control: the listed entity, by its entity name, published the same way, is loaded and run.
    const good = await publishRaw(queueName, 'mail.sendWelcomeMail', { e: 'User', id: { id: user.id } });

    await waitFor(
      () => dead.length === references.length && completed.includes(good),
      'every foreign reference dead-lettered and the good one run',
    );
    const letters = await deadLetters(ids);
    const attempts = ids.map((id) => failedAttempts.get(id) ?? 0);
    console.log(
      `[allow-list] foreign references=${references.length} dead-lettered=${letters.size} failed attempts=${attempts.join(',')} runs=${seen.length} (the control) leaked secret=${JSON.stringify(seen).includes('tok_live') ? 'yes' : 'no'}`,
    );
    expect(seen).toEqual([{ className: 'User', fields: expect.objectContaining({ id: user.id, name: 'Ann' }) }]);
    expect(JSON.stringify(seen)).not.toContain('tok_live');
    expect(attempts).toEqual(references.map(() => 1));
    expect(dead.map((event) => event.reason)).toEqual(references.map(() => 'undecodable-arguments'));
    expect(letters.size).toBe(references.length);
    for (const [index, id] of ids.entries()) {
      const letter = letters.get(id) as Letter;
      expect(letter.reason).toBe('undecodable-arguments');
      expect(letter.error).toContain(
        `${JSON.stringify(references[index].e)} is not one of the entities this worker's codec loads (User, Membership)`,
      );
    }
    await worker.stop();
  });

  it('a primary key of the wrong type ("1 OR 1=1", {"$ne":0}, ...) is dead-lettered on its first attempt, not retried', async () => {
    const { seen, worker, queueName, dead, failedAttempts } = setup('key-type');
    await worker.start();
    const references = [
      { e: 'User', id: { id: '1 OR 1=1' } },
      { e: 'User', id: { id: { $ne: 0 } } },
      { e: 'User', id: { id: [1] } },
      { e: 'User', id: { id: null } },
      { e: 'User', id: { id: 1.5 } },
      { e: 'User', id: { id: 2 ** 40 } },
      { e: 'User', id: { id: true } },
      { e: 'User', id: { id: 1, email: 'ann@example.com' } },
      { e: 'User', id: { email: 'ann@example.com' } },
      { e: 'Membership', id: { orgId: 7, userId: '42; DROP TABLE users' } },
    ];
    const ids: string[] = [];
    for (const reference of references) ids.push(await publishRaw(queueName, 'mail.sendWelcomeMail', reference));
    await waitFor(() => dead.length === references.length, 'every bad key dead-lettered');
    const letters = await deadLetters(ids);
    const attempts = ids.map((id) => failedAttempts.get(id) ?? 0);
    console.log(
      `[allow-list] bad keys=${references.length} dead-lettered=${letters.size} failed attempts=${attempts.join(',')} runs=${seen.length}`,
    );
    for (const letter of letters.values()) console.log(`  ${letter.error.split('\n')[0]}`);
    expect(seen).toEqual([]);
    expect(attempts).toEqual(references.map(() => 1));
    expect(dead.map((event) => event.reason)).toEqual(references.map(() => 'undecodable-arguments'));
    expect(letters.size).toBe(references.length);
    const errors = ids.map((id) => (letters.get(id) as Letter).error);
    expect(errors[0]).toMatch(
      /the key User\.id must be an integer from -2147483648 to 2147483647, got a string that is not one/,
    );
    expect(errors[1]).toMatch(/the key User\.id must be an integer .* got an object/);
    expect(errors[4]).toMatch(/got a fractional number/);
    expect(errors[7]).toMatch(/the key User must have exactly id, got "id", "email"/);
    expect(errors[9]).toMatch(/the key Membership\.userId must be an integer/);
    await worker.stop();
  });

  it('submitting an entity that is not listed fails at submit, naming the argument; nothing is queued', async () => {
    const { queue, queueName } = setup('submit');
    const token = await dataSource.manager.save(dataSource.manager.create(ApiToken, { secret: 'tok_submit' }));
    async function rotate(_token: ApiToken) {}
    const registry = new TaskRegistry().add('tokens.rotate', rotate);
    const tokens = createQueue({
      registry,
      transport: broker.amqp(),
      codecs: [entityCodec(dataSource, { entities: [User] })],
      defaults: { queue: queueName },
    });
    const error = await tokens.submit(rotate, token).catch((e: unknown) => e);
    console.log(`[allow-list] submit of an unlisted entity: ${(error as Error).message}`);
    expect(errorCode(error)).toBe('TASKQ_UNSERIALIZABLE_ARGUMENT');
    expect((error as { path?: string }).path).toBe('args[0]');
    expect(errorCode((error as Error).cause)).toBe('TASKQ_ENTITY_NOT_ALLOWED');
    expect((error as Error).message).toMatch(
      /^args\[0\]: .*ApiToken at args\[0\] is not one of the entities this codec sends \(User\)/,
    );
    expect(await broker.depth(queueName)).toBe(0);
    await tokens.close();
    await queue.close();
  });

  it('keys are checked against the column type of each primary key: uuid, varchar(n), bigint', async () => {
    const codec = entityCodec(dataSource, { entities: [Device, Slug, Ledger] });
    const decode = (e: string, id: unknown) =>
      Promise.resolve(codec.decode({ e, id: id as Record<string, unknown> }, { path: 'args[0]' })).catch(
        (error: unknown) => error,
      );
    const cases: Array<[string, unknown, string]> = [
      ['Device', { id: randomUUID() }, 'TASKQ_ENTITY_NOT_FOUND'],
      ['Device', { id: 'not-a-uuid' }, 'TASKQ_ENTITY_KEY_INVALID'],
      ['Device', { id: 42 }, 'TASKQ_ENTITY_KEY_INVALID'],
      ['Slug', { slug: 'hello-world' }, 'TASKQ_ENTITY_NOT_FOUND'],
      ['Slug', { slug: 'x'.repeat(21) }, 'TASKQ_ENTITY_KEY_INVALID'],
      ['Slug', { slug: 7 }, 'TASKQ_ENTITY_KEY_INVALID'],
      ['Ledger', { id: '9223372036854775807' }, 'TASKQ_ENTITY_NOT_FOUND'],
      ['Ledger', { id: 12 }, 'TASKQ_ENTITY_NOT_FOUND'],
      ['Ledger', { id: '9223372036854775808' }, 'TASKQ_ENTITY_KEY_INVALID'],
      ['Ledger', { id: '1e3' }, 'TASKQ_ENTITY_KEY_INVALID'],
    ];
    const codes: string[] = [];
    for (const [e, id] of cases) codes.push(String(errorCode(await decode(e, id))));
    console.log(
      `[allow-list] column types: ${cases.map(([e, id], i) => `${e} ${JSON.stringify(id).slice(0, 30)} -> ${codes[i]}`).join('; ')}`,
    );
    // NOT_FOUND means the key was accepted and the query ran; a refused key never reaches the database.
    expect(codes).toEqual(cases.map(([, , code]) => code));
    await dataSource.manager.insert(Device, { id: '0196f0a4-6a7c-7000-8000-000000000001' });
    expect(await decode('Device', { id: '0196F0A4-6A7C-7000-8000-000000000001' })).toMatchObject({
      id: '0196f0a4-6a7c-7000-8000-000000000001',
    });
  });

  it("the list is required, and can never name taskq's own tables", async () => {
    const refusal = (fn: () => unknown): Error => {
      try {
        fn();
      } catch (error) {
        return error as Error;
      }
      throw new Error('expected a refusal');
    };
    for (const options of [undefined, {}, { entities: [] }, { entities: 'User' }, { entities: [null] }]) {
      const error = refusal(() => entityCodec(dataSource, options as never));
      expect(errorCode(error)).toBe('TASKQ_INVALID_OPTION');
    }
    expect(refusal(() => entityCodec(dataSource, { entities: [] })).message).toMatch(
      /option "entities": expected a non-empty array/,
    );
    for (const schema of [StatusEntity, OutboxEntity, InboxEntity]) {
      const error = refusal(() => entityCodec(dataSource, { entities: [User, schema] }));
      expect(error.message).toMatch(/option "entities": entities\[1\]: Taskq\w+ is one of taskq's own tables/);
    }
    // A class the DataSource does not know is a set-up error, reported on first use.
    class Stranger {}
    const codec = entityCodec(dataSource, { entities: [Stranger] });
    const error = await Promise.resolve(codec.decode({ e: 'Stranger', id: { id: 1 } }, { path: 'args[0]' })).catch(
      (e: unknown) => e,
    );
    expect(errorCode(error)).toBe('TASKQ_TYPEORM_SETUP');
    expect((error as Error).message).toMatch(/entities\[0\] \(Stranger\) is not an entity of the DataSource/);
  });
});
