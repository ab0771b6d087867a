import { createQueue, createWorker, silentLogger, TaskRegistry } from '@taskq/core';
import type { PreparedTask } from '@taskq/core/adapter';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentEntityManager, taskTransaction } from '../src/index.js';
import { Effect } from './fixtures/entities.js';
import { type DbKind, TestDatabase } from './support/db.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { sleep, waitFor } from '../../../test-support/wait.js';

const broker = testBroker('tqorm');
afterAll(() => broker.cleanup());

describe.each<DbKind>(['postgres', 'sqlite'])(
  'inbox: a duplicate delivery does not repeat the database write (%s)',
  (kind) => {
    let db: TestDatabase;
    let dataSource: DataSource;

    beforeAll(async () => {
      db = await TestDatabase.create(kind);
      dataSource = await db.dataSource([Effect]);
    });
    afterAll(() => db.cleanup());

    async function scenario(label: string, copies: number, concurrently: boolean) {
      let runs = 0;
      let acked = 0;
      async function chargeCard(cents: number) {
        runs++;
        await currentEntityManager().save(Effect, { label: `charge:${label}:${cents}` });
        // Long enough that a concurrent copy is delivered while this transaction is still open.
        await sleep(200);
      }
      const registry = new TaskRegistry().add('billing.chargeCard', chargeCard);
      const transport = broker.amqp();
      const queueName = broker.queue(`${kind}-${label}`);
      // No result store: the inbox alone has to stop the duplicate.
      const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
      const worker = createWorker({
        registry,
        transport,
        queues: [queueName],
        concurrency: 4,
        logger: silentLogger,
      }).use(taskTransaction(dataSource, { logger: silentLogger }));
      worker.on('completed', () => acked++);
      // Capture the exact message a submit produces, then publish it by hand, several times, with the same id.
      const captured: PreparedTask[] = [];
      const uow = queue.begin({ stage: async (tasks) => void captured.push(...tasks) });
      await uow.run(() => queue.submit(chargeCard, 500));
      const { message } = captured[0];
      await worker.start();
      if (concurrently) await transport.publishMany(Array.from({ length: copies }, () => message));
      else {
        for (let i = 0; i < copies; i++) {
          await transport.publish(message);
          await waitFor(() => acked === i + 1, `delivery ${i + 1}`);
        }
      }
      await waitFor(() => acked === copies, 'every copy to be acked');
      await sleep(200);
      const effects = await dataSource.manager.countBy(Effect, { label: `charge:${label}:500` });
      const inbox = Number(
        (
          await dataSource.query(
            `SELECT COUNT(*) AS n FROM ${db.table('taskq_inbox')} WHERE task_id = ${db.param(1)}`,
            [message.id],
          )
        )[0].n,
      );
      console.log(
        `[${kind}] ${copies} copies of task ${message.id} (${concurrently ? 'concurrently' : 'one after another'}): acked=${acked} runs=${runs} database writes=${effects} inbox rows=${inbox}`,
      );
      await worker.stop();
      await queue.close();
      return { runs, effects, acked, inbox };
    }

    it('the same message delivered twice, one after the other: written once, both acked', async () => {
      expect(await scenario('sequential', 2, false)).toEqual({ runs: 1, effects: 1, acked: 2, inbox: 1 });
    });

    it('the same message delivered three times at once: written once, all acked', async () => {
      expect(await scenario('concurrent', 3, true)).toEqual({ runs: 1, effects: 1, acked: 3, inbox: 1 });
    });
  },
);
