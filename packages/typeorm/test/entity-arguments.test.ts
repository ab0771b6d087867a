import { createQueue, createWorker, type DeadEvent, errorCode, silentLogger, TaskRegistry } from '@taskq/core';
import type { DataSource, EntitySubscriberInterface, LoadEvent, QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentEntityManager, entityCodec, sqlResultStore, transactional, taskTransaction } from '../src/index.js';
import { Membership, User } from './fixtures/entities.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

interface Seen {
  isUser: boolean;
  name: string;
  email: string;
  greeting: string;
  loadedInTaskTransaction: boolean;
}

describe.each<DbKind>(['postgres', 'sqlite'])('entities as task arguments (%s)', (kind) => {
  let db: TestDatabase;
  let dataSource: DataSource;
  /** The QueryRunner each entity instance was loaded through (TypeORM's afterLoad). */
  const loadedBy = new WeakMap<object, QueryRunner | undefined>();

  beforeAll(async () => {
    db = await TestDatabase.create(kind);
    dataSource = await db.dataSource([User, Membership]);
    const recorder: EntitySubscriberInterface = {
      afterLoad(entity: object, event?: LoadEvent<object>) {
        loadedBy.set(entity, event?.queryRunner);
      },
    };
    dataSource.subscribers.push(recorder);
  });
  afterAll(() => db.cleanup());

  function setup(label: string, dirty: 'reject' | 'flush' = 'reject') {
    const seen: Seen[] = [];
    const memberships: Array<{ isMembership: boolean; orgId: number; userId: number; role: string }> = [];
    async function sendWelcomeMail(user: User) {
      const manager = currentEntityManager();
      seen.push({
        isUser: user instanceof User,
        name: user.name,
        email: user.email,
        greeting: user.greeting(),
        loadedInTaskTransaction: loadedBy.get(user) !== undefined && loadedBy.get(user) === manager.queryRunner,
      });
    }
    async function welcomeMember(membership: Membership) {
      memberships.push({
        isMembership: membership instanceof Membership,
        orgId: membership.orgId,
        userId: membership.userId,
        role: membership.role,
      });
    }
    const registry = new TaskRegistry()
      .add('mail.sendWelcomeMail', sendWelcomeMail, { attempts: 3 })
      .add('mail.welcomeMember', welcomeMember);
    const codec = entityCodec(dataSource, { entities: [User, Membership], dirty });
    const transport = broker.amqp();
    const store = sqlResultStore(dataSource);
    const queueName = broker.queue(`${kind}-${label}`);
    const queue = createQueue({ registry, transport, store, codecs: [codec], defaults: { queue: queueName } });
    const worker = createWorker({
      registry,
      transport,
      store,
      codecs: [codec],
      queues: [queueName],
      logger: silentLogger,
    }).use(taskTransaction(dataSource, { logger: silentLogger }));
    return { seen, memberships, sendWelcomeMail, welcomeMember, queue, queueName, worker };
  }

  it("a User argument arrives as a User, loaded in the worker's per-task transaction, with the committed values", async () => {
    const { seen, sendWelcomeMail, queue, worker } = setup('load');
    const handle = await transactional(dataSource, queue, async (manager) => {
      const user = await manager.save(manager.create(User, { name: 'Ann', email: 'ann@example.com' }));
      const h = await queue.submit(sendWelcomeMail, user);
      // Changed and saved after the submit, in the same transaction: the worker must see this, the committed row.
      user.email = 'ann@example.org';
      await manager.save(user);
      return h;
    });
    await worker.start();
    await handle.result({ timeout: 10_000 });
    console.log(`[${kind}] entity argument: runs=${seen.length}`, seen[0]);
    expect(seen).toEqual([
      { isUser: true, name: 'Ann', email: 'ann@example.org', greeting: 'Hello Ann', loadedInTaskTransaction: true },
    ]);
    await worker.stop();
    await queue.close();
  });

  it('a composite primary key travels and loads', async () => {
    const { memberships, welcomeMember, queue, worker } = setup('composite');
    const handle = await transactional(dataSource, queue, async (manager) => {
      const membership = await manager.save(manager.create(Membership, { orgId: 7, userId: 42, role: 'owner' }));
      return queue.submit(welcomeMember, membership);
    });
    await worker.start();
    await handle.result({ timeout: 10_000 });
    expect(memberships).toEqual([{ isMembership: true, orgId: 7, userId: 42, role: 'owner' }]);
    await worker.stop();
    await queue.close();
  });

  it('dirty + reject: the submit throws naming the changed columns, and nothing is queued', async () => {
    const { sendWelcomeMail, queue, queueName } = setup('reject');
    const user = await dataSource.manager.save(
      dataSource.manager.create(User, { name: 'Bob', email: 'bob@example.com' }),
    );
    user.name = 'Robert';
    user.email = 'robert@example.com';
    let id: string | undefined;
    const error = await transactional(dataSource, queue, async () => {
      id = (await queue.submit(sendWelcomeMail, user)).id;
    }).catch((e: unknown) => e);
    expect(id).toBeUndefined();
    expect(errorCode(error)).toBe('TASKQ_UNSERIALIZABLE_ARGUMENT');
    const cause = (error as Error).cause as { code: string; columns: string[] };
    expect(cause.code).toBe('TASKQ_ENTITY_DIRTY');
    expect(cause.columns).toEqual(['name', 'email']);
    expect((error as Error).message).toMatch(/args\[0\].*User \{"id":\d+\} has unsaved changes in columns name, email/);
    console.log(`[${kind}] dirty + reject: ${(error as Error).message}`);
    expect((await dataSource.manager.findOneByOrFail(User, { id: user.id })).name).toBe('Bob');
    expect(await broker.depth(queueName)).toBe(0);
    await queue.close();
  });

  it('dirty + flush: the entity is saved through the transaction before the task is queued', async () => {
    const { seen, sendWelcomeMail, queue, worker } = setup('flush', 'flush');
    const user = await dataSource.manager.save(
      dataSource.manager.create(User, { name: 'Cy', email: 'cy@example.com' }),
    );
    user.name = 'Cyrus';
    const handle = await transactional(dataSource, queue, () => queue.submit(sendWelcomeMail, user));
    expect((await dataSource.manager.findOneByOrFail(User, { id: user.id })).name).toBe('Cyrus');
    // A flush that rolls back leaves the row alone.
    user.name = 'Never';
    await expect(
      transactional(dataSource, queue, async () => {
        await queue.submit(sendWelcomeMail, user);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await dataSource.manager.findOneByOrFail(User, { id: user.id })).name).toBe('Cyrus');
    await worker.start();
    await handle.result({ timeout: 10_000 });
    await sleep(200);
    expect(seen.map((s) => s.name)).toEqual(['Cyrus']);
    await worker.stop();
    await queue.close();
  });

  it('an unsaved entity is refused at submit', async () => {
    const { sendWelcomeMail, queue, queueName } = setup('unsaved');
    const fresh = dataSource.manager.create(User, { name: 'Dee', email: 'dee@example.com' });
    const noKey = await queue.submit(sendWelcomeMail, fresh).catch((e: unknown) => e);
    expect(((noKey as Error).cause as { code: string }).code).toBe('TASKQ_ENTITY_NOT_SAVED');
    expect((noKey as Error).message).toMatch(/User at args\[0\] has no primary key yet: it was never saved/);
    const ghost = dataSource.manager.create(User, { id: 999_999, name: 'Ghost', email: 'g@example.com' });
    const noRow = await queue.submit(sendWelcomeMail, ghost).catch((e: unknown) => e);
    expect(((noRow as Error).cause as { code: string }).code).toBe('TASKQ_ENTITY_NOT_SAVED');
    expect((noRow as Error).message).toMatch(/has no row in the database/);
    expect(await broker.depth(queueName)).toBe(0);
    await queue.close();
  });

  it('a row deleted before the task runs fails it at once, without retries, dead-lettered with the reason', async () => {
    const { seen, sendWelcomeMail, queue, worker } = setup('deleted');
    const dead: DeadEvent[] = [];
    let failures = 0;
    worker.on('dead', (event) => dead.push(event));
    worker.on('failed', () => failures++);
    const handle = await transactional(dataSource, queue, async (manager) => {
      const user = await manager.save(manager.create(User, { name: 'Eve', email: 'eve@example.com' }));
      return queue.submit(sendWelcomeMail, user);
    });
    await dataSource.manager.delete(User, { name: 'Eve' });
    await worker.start();
    await waitFor(() => dead.length === 1, 'the dead letter');
    await sleep(300);
    const status = await queue.status(handle.id);
    const letters = (await broker.drainDead()).filter((letter) => letter.id === handle.id);
    console.log(
      `[${kind}] deleted row: runs=${seen.length} failed attempts=${failures} dead letters=${letters.length} reason=${String(letters[0]?.headers['x-taskq-dead-reason'])} error=${String(letters[0]?.headers['x-taskq-error'])}`,
    );
    expect(seen).toEqual([]);
    expect(failures).toBe(1);
    expect(dead[0].reason).toBe('undecodable-arguments');
    expect(letters).toHaveLength(1);
    expect(letters[0].headers['x-taskq-dead-reason']).toBe('undecodable-arguments');
    expect(String(letters[0].headers['x-taskq-error'])).toMatch(/User \{"id":\d+\} no longer exists .*not retried/);
    expect(status).toMatchObject({ state: 'dead', attempts: 1 });
    expect(status?.error?.message).toMatch(/no longer exists/);
    await worker.stop();
    await queue.close();
  });
});
