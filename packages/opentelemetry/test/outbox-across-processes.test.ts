// The outbox path across processes: a task submitted inside a database transaction (PostgreSQL) during a traced
// request is only created there (`create` span, in the outbox row's envelope); the broker refuses the commit's own
// publish, so the relay in another process publishes it (`send` span linked to `create`); the worker runs it in the
// request's trace (process span, parent = create).
import { trace } from '@opentelemetry/api';
import { createQueue, createWorker, silentLogger, TaskRegistry } from '@taskq/core';
import { taskqEntities, transactional } from '@taskq/typeorm';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faulty } from '../../../test-support/faulty-transport.js';
import { createSchema, dropSchema, PG_URL } from '../../../test-support/postgres.js';
import { RABBIT_URL } from '../../../test-support/rabbit.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';
import { TracedChild } from './support/child.js';
import { setupTelemetry } from './support/telemetry.js';

const telemetry = setupTelemetry();
const broker = testBroker('tqotel');
const queueName = broker.queue('outbox');
let schema = '';
let dataSource: DataSource;
let relay: TracedChild;

beforeAll(async () => {
  schema = await createSchema('otel_outbox');
  dataSource = new DataSource({
    type: 'postgres',
    url: PG_URL,
    schema,
    entities: taskqEntities,
    synchronize: true,
    logging: false,
  });
  await dataSource.initialize();
  relay = new TracedChild('outbox-relay.cjs', {
    PG_URL,
    PG_SCHEMA: schema,
    RABBIT_URL,
    RABBIT_PREFIX: broker.prefix,
    QUEUE: queueName,
  });
  await relay.ready();
});

afterAll(async () => {
  expect(await relay?.stop()).toBe(0);
  await dataSource?.destroy();
  await dropSchema(schema);
  await broker.cleanup();
  await telemetry.shutdown();
});

describe('the outbox path across processes', () => {
  it("request → create (outbox) ⇢ relay's send (other process, linked) ⇢ process in the request's trace", async () => {
    let ran = 0;
    async function sendWelcomeMail(_email: string): Promise<void> {
      ran++;
    }
    const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
    // The broker "is down" for this process: the commit's publish fails and the row stays for the relay.
    const refusing = faulty(broker.amqp(), { fail: () => new Error('broker unreachable') });
    const queue = createQueue({ registry, transport: refusing, defaults: { queue: queueName } });
    const transport = broker.amqp();
    const worker = createWorker({ registry, transport, queues: [queueName], logger: silentLogger });
    await worker.start();
    try {
      const id = await trace.getTracer('test').startActiveSpan('POST /users', async (span) => {
        try {
          return await transactional(dataSource, queue, async () => (await queue.submit(sendWelcomeMail, 'ann')).id);
        } finally {
          span.end();
        }
      });
      expect(ran).toBe(0);
      relay.send('sweep');
      const { published } = await relay.message((m): m is { published: number } =>
        Boolean(m && typeof m === 'object' && 'published' in m),
      );
      expect(published).toBe(1);
      await waitFor(() => telemetry.spans().some((s) => s.name === `process ${queueName}`), 'the process span');

      const here = telemetry.spans();
      const request = here.find((s) => s.name === 'POST /users');
      const create = here.find((s) => s.name === `create ${queueName}`);
      const failedSend = here.find((s) => s.name === `send ${queueName}`);
      const processed = here.find((s) => s.name === `process ${queueName}`);
      const relayed = relay.spans().filter((s) => s.name === `send ${queueName}`);
      console.log(
        `request ${request?.traceId}; relay send trace ${relayed[0]?.traceId} links ${JSON.stringify(relayed[0]?.links)}`,
      );

      expect(create).toMatchObject({ kind: 'PRODUCER', traceId: request?.traceId, parentSpanId: request?.spanId });
      expect(create?.attributes).toMatchObject({ 'messaging.operation.type': 'create', 'messaging.message.id': id });
      // The commit's own publish was refused: its send span says so, and links to the creation too.
      expect(failedSend).toMatchObject({ kind: 'PRODUCER', status: 'ERROR' });
      expect(failedSend?.links).toEqual([{ traceId: create?.traceId, spanId: create?.spanId }]);

      expect(relayed).toHaveLength(1);
      expect(relayed[0]).toMatchObject({ kind: 'PRODUCER', status: 'UNSET' });
      expect(relayed[0].parentSpanId).toBeUndefined(); // the relay's sweep is a trace of its own
      expect(relayed[0].links).toEqual([{ traceId: request?.traceId, spanId: create?.spanId }]);
      expect(relayed[0].attributes).toMatchObject({ 'messaging.operation.type': 'send', 'messaging.message.id': id });

      expect(processed).toMatchObject({ traceId: request?.traceId, parentSpanId: create?.spanId });
      expect(processed?.links).toEqual([{ traceId: request?.traceId, spanId: create?.spanId }]);
      expect(processed?.attributes).toMatchObject({ 'messaging.message.id': id, 'taskq.task.outcome': 'completed' });
      expect(ran).toBe(1);
    } finally {
      await worker.stop();
      await queue.close();
    }
  });
});
