// Every attempt of a task is its own process span; all of them are children of the one send span and link to it
// (the creation context), so a retried task reads as one story in the trace.
import { trace } from '@opentelemetry/api';
import { createQueue, createWorker, silentLogger, TaskRegistry } from '@taskq/core';
import { afterAll, describe, expect, it } from 'vitest';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';
import { setupTelemetry } from './support/telemetry.js';

const telemetry = setupTelemetry();
const broker = testBroker('tqotel');
afterAll(async () => {
  await broker.cleanup();
  await telemetry.shutdown();
});

class MailTimeoutError extends Error {}

describe('retries', () => {
  it('a task failing twice then succeeding: three process spans, one parent, one creation link, attempts 1-3', async () => {
    let calls = 0;
    async function sendWelcomeMail(_email: string): Promise<void> {
      calls++;
      if (calls === 1) throw Object.assign(new Error('mail API down'), { code: 'MAIL_DOWN' });
      if (calls === 2) throw new MailTimeoutError('mail API timed out');
    }
    const registry = new TaskRegistry().add('mail.sendWelcomeMail', sendWelcomeMail, {
      attempts: 3,
      backoff: { type: 'fixed', delay: 20 },
    });
    const queueName = broker.queue('retries');
    const transport = broker.amqp();
    const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
    const worker = createWorker({ registry, transport, queues: [queueName], logger: silentLogger });
    await worker.start();
    try {
      const tracer = trace.getTracer('test');
      const id = await tracer.startActiveSpan('POST /users', async (span) => {
        try {
          return (await queue.submit(sendWelcomeMail, 'ann@example.com')).id;
        } finally {
          span.end();
        }
      });
      const processSpans = () => telemetry.spans().filter((s) => s.name === `process ${queueName}`);
      await waitFor(() => processSpans().length === 3, 'three process spans');

      const spans = telemetry.spans();
      const request = spans.find((s) => s.name === 'POST /users');
      const send = spans.find((s) => s.name === `send ${queueName}`);
      expect(send?.parentSpanId).toBe(request?.spanId);
      const attempts = processSpans().sort(
        (a, b) => Number(a.attributes['taskq.task.attempt']) - Number(b.attributes['taskq.task.attempt']),
      );
      console.log(
        attempts
          .map((s) => `attempt ${s.attributes['taskq.task.attempt']}: ${s.status} ${s.attributes['error.type'] ?? ''}`)
          .join('; '),
      );
      expect(calls).toBe(3);
      for (const attempt of attempts) {
        expect(attempt.traceId).toBe(request?.traceId);
        expect(attempt.parentSpanId).toBe(send?.spanId);
        expect(attempt.links).toEqual([{ traceId: send?.traceId, spanId: send?.spanId }]);
        expect(attempt.attributes).toMatchObject({ 'messaging.message.id': id, 'taskq.task.max_attempts': 3 });
      }
      expect(attempts.map((s) => s.attributes['taskq.task.attempt'])).toEqual([1, 2, 3]);
      expect(attempts.map((s) => s.status)).toEqual(['ERROR', 'ERROR', 'UNSET']);
      expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['MAIL_DOWN', 'MailTimeoutError', undefined]);
      expect(attempts.map((s) => s.attributes['taskq.task.outcome'])).toEqual(['retried', 'retried', 'completed']);
      expect(attempts.map((s) => s.events)).toEqual([['exception'], ['exception'], []]);
    } finally {
      await worker.stop();
      await queue.close();
    }
  });
});
