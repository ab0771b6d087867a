import { createQueue, silentLogger } from '@taskq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { outboxRelay } from '../src/index.js';
import { registry } from './fixtures/crash-tasks.js';
import { commitAndCrash, relayInChild } from './support/child.js';
import { TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

const ROWS = 2_000;
const BATCH = 50;

describe('outbox relays on PostgreSQL', () => {
  it(`two relays in two processes sweeping ${ROWS} left-behind rows at once publish each exactly once`, async () => {
    const db = await TestDatabase.create('postgres');
    try {
      const reader = await db.dataSource(); // creates the tables
      const countOutbox = async (): Promise<number> =>
        Number((await reader.query(`SELECT COUNT(*) AS n FROM ${db.table('taskq_outbox')}`))[0].n);
      const queueName = broker.queue('relays');
      // Relay B runs in a child process; it boots now and waits for its go.
      const relayB = relayInChild(db, broker, queueName, BATCH);
      // A process committed ROWS tasks and died before publishing any of them.
      const crashed = await commitAndCrash(db, broker, queueName, ROWS);
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      expect(crashed.ids).toHaveLength(ROWS);
      const outboxBefore = await countOutbox();
      expect(outboxBefore).toBe(ROWS);

      // Relay A in this process (its own pool and broker connection); both relays start together.
      const dataSource = await db.dataSource([], { synchronize: false, poolSize: 4 });
      const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
      const relayA = outboxRelay(dataSource, queue, { minAge: 0, batchSize: BATCH, logger: silentLogger });
      await relayB.ready;
      const started = Date.now();
      relayB.go();
      const [publishedA, publishedB] = await Promise.all([relayA.sweep(), relayB.done]);
      const elapsed = Date.now() - started;

      const received = await broker.drainQueue(queueName);
      const perId = new Map<string, number>();
      for (const id of received) perId.set(id, (perId.get(id) ?? 0) + 1);
      const submitted = new Set(crashed.ids);
      const duplicated = [...perId.values()].filter((n) => n > 1).length;
      const lost = crashed.ids.filter((id) => !perId.has(id)).length;
      const unknown = [...perId.keys()].filter((id) => !submitted.has(id)).length;
      const left = await countOutbox();
      console.log(
        `two relays, ${ROWS} outbox rows: relay A (this process) published ${publishedA}, relay B (child process) published ${publishedB}, sum ${publishedA + publishedB}, in ${elapsed} ms; ` +
          `broker received ${received.length} messages, ${perId.size} distinct ids, duplicated=${duplicated} lost=${lost} unknown=${unknown}; outbox rows left=${left}`,
      );
      expect(publishedA + publishedB).toBe(ROWS);
      expect(publishedA).toBeGreaterThan(0);
      expect(publishedB).toBeGreaterThan(0);
      expect(received).toHaveLength(ROWS);
      expect(perId.size).toBe(ROWS);
      expect(duplicated).toBe(0);
      expect(lost).toBe(0);
      expect(unknown).toBe(0);
      expect(left).toBe(0);
      await queue.close();
    } finally {
      await db.cleanup();
    }
  });
});
