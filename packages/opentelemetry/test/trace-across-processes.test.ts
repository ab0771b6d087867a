// The register-user story as one trace: an Express request (HTTP server span) submits a task (send span), a worker in
// another process runs it (process span, parent = send) and the task calls a mail API (HTTP client span, parent =
// process). The worker is a CommonJS child process with its own tracer provider and the http instrumentation.
import { createRequire } from 'node:module';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { createQueue, TaskRegistry } from '@taskq/core';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RABBIT_URL } from '../../../test-support/rabbit.js';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';
import { TracedChild } from './support/child.js';
import { listen, mailApi } from './support/http.js';
import { type SpanRecord, setupTelemetry } from './support/telemetry.js';

const telemetry = setupTelemetry({ others: [new HttpInstrumentation()] });
// The http instrumentation patches on require(): load it once through require() now that the hook is in.
createRequire(import.meta.url)('node:http');

const broker = testBroker('tqotel');
const queueName = broker.queue('welcome');
let mail: Awaited<ReturnType<typeof mailApi>>;
let worker: TracedChild;

beforeAll(async () => {
  mail = await mailApi();
  worker = new TracedChild('mail-worker.cjs', {
    RABBIT_URL,
    RABBIT_PREFIX: broker.prefix,
    QUEUE: queueName,
    MAIL_URL: mail.url,
    OTEL_HTTP: '1',
  });
  await worker.ready();
});

afterAll(async () => {
  expect(await worker?.stop()).toBe(0);
  await mail?.close();
  await broker.cleanup();
  await telemetry.shutdown();
});

/** Submit side only: the worker's function lives in the child (same registry id). */
async function sendWelcomeMail(_email: string): Promise<void> {}

function only(spans: SpanRecord[], what: string, match: (span: SpanRecord) => boolean): SpanRecord {
  const found = spans.filter(match);
  expect(found, `exactly one ${what} in ${JSON.stringify(spans.map((s) => s.name))}`).toHaveLength(1);
  return found[0];
}

describe('one trace from the HTTP request through the worker process to the mail call', () => {
  it('HTTP server span → send span → process span (other process) → HTTP client span', async () => {
    const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail);
    const queue = createQueue({ registry, transport: broker.amqp(), defaults: { queue: queueName } });
    const app = express();
    app.use(express.json());
    app.post('/users', async (req, res) => {
      const handle = await queue.submit(sendWelcomeMail, String(req.body.email));
      res.status(202).json({ id: handle.id });
    });
    const server = await listen(app.listen(0, '127.0.0.1'));
    try {
      const response = await fetch(`${server.url}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ann@example.com' }),
      });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      await waitFor(() => mail.received.length === 1, 'the mail API call');
      await waitFor(
        () => worker.spans().some((s) => s.kind === 'CLIENT') && worker.spans().some((s) => s.kind === 'CONSUMER'),
        "the worker's spans",
      );
      await waitFor(() => telemetry.spans().filter((s) => s.kind === 'SERVER').length === 2, 'both server spans');

      const here = telemetry.spans();
      const there = worker.spans();
      const request = only(here, 'request span', (s) => s.kind === 'SERVER' && s.parentSpanId === undefined);
      const send = only(here, 'send span', (s) => s.name === `send ${queueName}`);
      const processed = only(there, 'process span', (s) => s.name === `process ${queueName}`);
      const call = only(there, 'mail call span', (s) => s.kind === 'CLIENT');
      const mailServer = only(here, 'mail API span', (s) => s.kind === 'SERVER' && s.parentSpanId !== undefined);
      console.log(
        `trace ${request.traceId}: ${[request, send, processed, call, mailServer].map((s) => `${s.kind} ${s.name}`).join(' → ')}`,
      );

      for (const span of [send, processed, call, mailServer]) expect(span.traceId).toBe(request.traceId);
      expect(send).toMatchObject({ kind: 'PRODUCER', parentSpanId: request.spanId, scope: '@taskq/opentelemetry' });
      expect(processed).toMatchObject({ kind: 'CONSUMER', parentSpanId: send.spanId, status: 'UNSET' });
      expect(processed.links).toEqual([{ traceId: send.traceId, spanId: send.spanId }]);
      expect(call.parentSpanId).toBe(processed.spanId);
      expect(mailServer.parentSpanId).toBe(call.spanId);

      expect(send.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'send',
        'messaging.destination.name': broker.physical(queueName),
        'messaging.rabbitmq.destination.routing_key': broker.physical(queueName),
        'messaging.message.id': id,
        'taskq.task.name': 'mail.sendWelcomeMail',
        'taskq.queue': queueName,
      });
      expect(processed.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'process',
        'messaging.destination.name': broker.physical(queueName),
        'messaging.message.id': id,
        'taskq.task.name': 'mail.sendWelcomeMail',
        'taskq.queue': queueName,
        'taskq.task.attempt': 1,
        'taskq.task.outcome': 'completed',
      });
    } finally {
      await server.close();
      await queue.close();
    }
  });
});
