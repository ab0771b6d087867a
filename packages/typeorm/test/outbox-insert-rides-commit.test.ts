import { createQueue } from '@taskq/core';
import type { DataSource, EntitySubscriberInterface } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { joinTransaction, transactional } from '../src/index.js';
import { deliverParcel, registry } from './fixtures/crash-tasks.js';
import { TestDatabase } from './support/db.js';
import { gated } from './support/gated-transport.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqride');
afterAll(() => broker.cleanup());

/** Every statement TypeORM ran on `dataSource`'s connections, in the order they completed. */
function statementLog(dataSource: DataSource): string[] {
  const seen: string[] = [];
  const recorder: EntitySubscriberInterface = {
    afterQuery(event) {
      seen.push(event.query.trim());
    },
  };
  dataSource.subscribers.push(recorder);
  return seen;
}

/** Statements that write or commit, with the outbox INSERT shortened to its first words and its last one. */
function shape(statements: readonly string[]): string[] {
  return statements
    .filter((sql) => !/^SELECT\b/i.test(sql))
    .map((sql) => {
      if (!sql.includes('taskq_outbox')) return sql.split(/\s+/).slice(0, 2).join(' ').toUpperCase();
      const tail = sql.split(';').map((part) => part.trim().split(/\s+/)[0].toUpperCase());
      return `${tail.join('; ')} (outbox)`;
    });
}

describe('PostgreSQL: the outbox INSERT rides in the COMMIT', () => {
  it('a transaction that submits sends no statement of its own: its rows go in the COMMIT round trip, in transactional() and in a joined dataSource.transaction()', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      const queueName = broker.queue('ride');
      const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const orders = db.table('taskq_test_orders');
      await dataSource.query(`CREATE TABLE ${orders} ("id" serial PRIMARY KEY, "note" text)`);
      const log = statementLog(dataSource);
      const ids: string[] = [];

      await transactional(dataSource, queue, async (manager) => {
        await manager.query(`INSERT INTO ${orders} ("note") VALUES ($1)`, ['order 1']);
        ids.push((await queue.submit(deliverParcel, 'one')).id);
        ids.push(...(await queue.submitMany(deliverParcel, [['two'], ['three']])).map((h) => h.id));
      });
      const own = shape(log.splice(0));

      await dataSource.transaction(async (manager) => {
        await manager.query(`INSERT INTO ${orders} ("note") VALUES ($1)`, ['order 2']);
        await joinTransaction(manager, queue, async () => {
          ids.push((await queue.submit(deliverParcel, 'joined')).id);
        });
      });
      await waitFor(async () => (await broker.depth(queueName)) === 4, 'the joined transaction to be published');
      const joined = shape(log.splice(0));
      console.log(`transactional(): ${own.join(' | ')}\njoined: ${joined.join(' | ')}`);

      expect(own.slice(0, 3)).toEqual(['START TRANSACTION', 'INSERT INTO', 'INSERT; COMMIT (outbox)']);
      expect(joined.slice(0, 3)).toEqual(['START TRANSACTION', 'INSERT INTO', 'INSERT; COMMIT (outbox)']);
      // After the commit: only the coalesced DELETE of the published rows touches the outbox.
      expect([...own.slice(3), ...joined.slice(3)].every((sql) => sql === 'DELETE (outbox)')).toBe(true);
      expect((await broker.drainQueue(queueName)).sort()).toEqual([...ids].sort());
      expect(Number((await dataSource.query(`SELECT COUNT(*) AS n FROM ${orders}`))[0].n)).toBe(2);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('hostile text is written byte for byte as literal SQL, with standard_conforming_strings on or off: the row a relay would publish is the message', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      const outside = await db.dataSource([], { synchronize: false });
      const queueName = broker.queue('hostile');
      const transport = gated(broker.amqp());
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const hostile = [
        "it's",
        "'); DROP TABLE taskq_outbox; --",
        "back\\slash \\' \\\\ end\\",
        "E'\\x41' $$ $tag$ \" ; COMMIT; --",
        'line\nbreak\ttab \u00e9\u00e8 \u{1F4E6} \u2028',
      ];
      for (const conforming of ['on', 'off']) {
        transport.messages.length = 0;
        transport.shut();
        const committed = transactional(dataSource, queue, async (manager) => {
          await manager.query(`SET LOCAL standard_conforming_strings = ${conforming}`);
          // A delay with a fraction of a millisecond: the bigint column takes it rounded up.
          const later = queue.with({ delay: 60_000.5, priority: 3 });
          for (const text of hostile) await later.submit(deliverParcel, text);
        });
        await waitFor(() => transport.messages.length === hostile.length, 'the publishes after the commit');
        const rows: Array<Record<string, unknown>> = await outside.query(
          `SELECT "id", "queue", "task", "body", "headers", "priority", "available_at" FROM ${db.table('taskq_outbox')}`,
        );
        const byId = new Map(rows.map((row) => [String(row.id), row]));
        for (const message of transport.messages) {
          const row = byId.get(message.id);
          expect(row, `row of ${message.id}`).toBeDefined();
          expect(row?.body).toBe(message.body.toString('utf8'));
          expect(JSON.parse(String(row?.headers))).toEqual(message.headers);
          expect(row?.queue).toBe(message.queue);
          expect(row?.task).toBe('crash.deliverParcel');
          expect(Number(row?.priority)).toBe(3);
          expect(Number.isSafeInteger(Number(row?.available_at))).toBe(true);
          expect(Number(row?.available_at)).toBeGreaterThan(Date.now() + 50_000);
        }
        const decoded = transport.messages.map((m) => JSON.stringify(JSON.parse(m.body.toString('utf8'))));
        for (const text of hostile) expect(decoded.some((body) => body.includes(JSON.stringify(text)))).toBe(true);
        console.log(`standard_conforming_strings=${conforming}: ${rows.length} rows equal to their messages`);
        expect(rows).toHaveLength(hostile.length);
        transport.open();
        await committed;
        await waitFor(
          async () => Number((await outside.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n) === 0,
          'the published rows to be deleted',
        );
      }
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });

  it('a SAVEPOINT or a RELEASE finds the rows staged before it in the table; a released savepoint keeps its tasks', async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const dataSource = await db.dataSource();
      const queueName = broker.queue('release');
      const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const log = statementLog(dataSource);
      const ids: string[] = [];
      let visibleAtSavepoint = -1;
      await transactional(dataSource, queue, async (manager) => {
        ids.push((await queue.submit(deliverParcel, 'before the savepoint')).id);
        await manager.transaction(async (inner) => {
          visibleAtSavepoint = Number(
            (await inner.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n,
          );
          ids.push((await queue.submit(deliverParcel, 'in a released savepoint')).id);
        });
        ids.push((await queue.submit(deliverParcel, 'after the release')).id);
      });
      const statements = shape(log);
      console.log(`savepoint and release: ${statements.join(' | ')}`);
      expect(visibleAtSavepoint).toBe(1);
      expect(statements.slice(0, 5)).toEqual([
        'START TRANSACTION',
        'INSERT (outbox)',
        'SAVEPOINT TYPEORM_1',
        'INSERT (outbox)',
        'RELEASE SAVEPOINT',
      ]);
      expect(statements[5]).toBe('INSERT; COMMIT (outbox)');
      expect((await broker.drainQueue(queueName)).sort()).toEqual([...ids].sort());
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });
});
