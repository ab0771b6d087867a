// Compiled by public-api-types.test.ts: every wrong use is marked @ts-expect-error (an unused directive fails the
// build).
import {
  type Codec,
  createQueue,
  createWorker,
  memory,
  type ResultStore,
  type TaskHandle,
  TaskRegistry,
} from '@taskq/core';
import { DataSource, type EntityManager, EntitySchema, type ObjectLiteral } from 'typeorm';
import {
  currentEntityManager,
  type EncodedEntity,
  entityCodec,
  databaseUnitOfWork,
  outboxRelay,
  sqlResultStore,
  taskqEntities,
  taskTransaction,
  taskqMigrations,
  transactional,
} from '../../src/index.js';

class User {
  id = 0;
  name = '';
}
async function sendWelcomeMail(user: User): Promise<string> {
  return user.name;
}

export async function check(): Promise<void> {
  const dataSource = new DataSource({
    type: 'postgres',
    entities: [User, ...taskqEntities],
    migrations: [...taskqMigrations],
  });
  new DataSource({
    type: 'better-sqlite3',
    database: ':memory:',
    entities: taskqEntities,
    migrations: taskqMigrations,
  });
  const codec: Codec<ObjectLiteral, EncodedEntity> = entityCodec(dataSource, { entities: [User], dirty: 'flush' });
  // @ts-expect-error: the dirty policy is 'reject' or 'flush'
  entityCodec(dataSource, { entities: [User], dirty: 'ignore' });
  // @ts-expect-error: the entities that may travel are listed, there is no default
  entityCodec(dataSource);
  // @ts-expect-error: ... also with other options
  entityCodec(dataSource, { dirty: 'flush' });
  entityCodec(dataSource, {
    entities: [
      User,
      new EntitySchema<{ id: number }>({ name: 'Thing', columns: { id: { type: Number, primary: true } } }),
    ],
  });
  // @ts-expect-error: entities are classes or EntitySchemas, not names
  entityCodec(dataSource, { entities: ['User'] });
  const store: ResultStore = sqlResultStore(dataSource, { retention: '2d' });
  const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
  const queue = createQueue({ registry, transport: memory(), codecs: [codec], store });

  // The result type flows out of transactional(), and the manager in.
  const handle: TaskHandle<string> = await transactional(dataSource, queue, async (manager: EntityManager) => {
    const user = await manager.save(User, { id: 1, name: 'Ada' });
    return queue.submit(sendWelcomeMail, user);
  });
  void handle;
  // @ts-expect-error: the task's argument is still checked inside a transaction
  await transactional(dataSource, queue, () => queue.submit(sendWelcomeMail, 'not a user'));
  // @ts-expect-error: the queue comes before the function
  await transactional(dataSource, async () => 1);

  const tx = await databaseUnitOfWork(dataSource, queue, { isolation: 'SERIALIZABLE' });
  // @ts-expect-error: isolation levels are TypeORM's names
  await databaseUnitOfWork(dataSource, queue, { isolation: 'EVENTUAL' });
  const ran: number = tx.run(() => 1);
  void ran;
  await tx.commit();

  createWorker({ registry, transport: memory(), codecs: [codec], store }).use(
    taskTransaction(dataSource, { queue, inboxRetention: '3d' }),
  );
  const manager: EntityManager = currentEntityManager();
  void manager;

  const relay = outboxRelay(dataSource, queue, { sweepInterval: '5s', batchSize: 50 });
  // @ts-expect-error: durations are numbers (ms) or strings
  outboxRelay(dataSource, queue, { sweepInterval: true });
  await relay.start();
  await relay.stop();
}
