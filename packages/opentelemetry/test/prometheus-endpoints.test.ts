// The metrics at /metrics through @opentelemetry/exporter-prometheus: mounted in an Express, a Fastify and a Nest app
// (preventServerStart + getMetricsRequestHandler), and on the exporter's own port in a worker with no web framework.
// Each endpoint is scraped over HTTP and the text parsed.
import 'reflect-metadata';
import { Controller, Get, Inject, Module, Req, Res } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { createQueue, createWorker, silentLogger, TaskRegistry } from '@taskq/core';
import express, { type Request, type Response } from 'express';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBroker } from '../../../test-support/taskq-amqp.js';
import { waitFor } from '../../../test-support/wait.js';
import { freePort, listen } from './support/http.js';
import { type MetricFamily, parsePrometheus, sampleSum } from './support/prometheus.js';
import { setupTelemetry, sumOf } from './support/telemetry.js';

const forExpress = new PrometheusExporter({ preventServerStart: true });
const forFastify = new PrometheusExporter({ preventServerStart: true });
const forNest = new PrometheusExporter({ preventServerStart: true });
const workerPort = await freePort();
const forWorker = new PrometheusExporter({ port: workerPort, host: '127.0.0.1' });
const telemetry = setupTelemetry({ readers: [forExpress, forFastify, forNest, forWorker] });
const broker = testBroker('tqotel');
const queueName = broker.queue('prom');
const closers: Array<() => Promise<unknown>> = [];

@Controller()
class MetricsController {
  constructor(@Inject(PrometheusExporter) private readonly exporter: PrometheusExporter) {}

  @Get('metrics')
  metrics(@Req() req: Request, @Res() res: Response): void {
    this.exporter.getMetricsRequestHandler(req, res);
  }
}

@Module({ controllers: [MetricsController], providers: [{ provide: PrometheusExporter, useValue: forNest }] })
class AppModule {}

async function welcome(_email: string): Promise<void> {}
async function broken(_email: string): Promise<void> {
  throw new Error('template missing');
}

beforeAll(async () => {
  const registry = new TaskRegistry().add('mail.welcome', welcome).add('mail.broken', broken, { attempts: 1 });
  const transport = broker.amqp();
  const queue = createQueue({ registry, transport, defaults: { queue: queueName } });
  const worker = createWorker({ registry, transport, queues: [queueName], logger: silentLogger });
  await worker.start();
  closers.push(
    () => queue.close(),
    () => worker.stop(),
  );
  await queue.submitMany(welcome, [['a@example.com'], ['b@example.com'], ['c@example.com']]);
  await queue.submit(broken, 'd@example.com');
  await waitFor(async () => {
    const metrics = await telemetry.collect();
    return sumOf(metrics, 'taskq.tasks.completed') === 3 && sumOf(metrics, 'taskq.tasks.dead_lettered') === 1;
  }, 'the four tasks');
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await broker.cleanup();
  await telemetry.shutdown();
});

async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return parsePrometheus(await response.text());
}

/** What every endpoint must say after three completed tasks and one dead-lettered. */
function expectTaskMetrics(families: Map<string, MetricFamily>): void {
  const q = { taskq_queue: queueName };
  expect(families.get('taskq_tasks_completed_total')?.type).toBe('counter');
  expect(sampleSum(families, 'taskq_tasks_completed_total', { ...q, taskq_task_name: 'mail.welcome' })).toBe(3);
  expect(sampleSum(families, 'taskq_tasks_submitted_total', q)).toBe(4);
  expect(sampleSum(families, 'taskq_tasks_failed_total', { ...q, taskq_task_name: 'mail.broken' })).toBe(1);
  expect(
    sampleSum(families, 'taskq_tasks_dead_lettered_total', { ...q, taskq_dead_letter_reason: 'attempts-exhausted' }),
  ).toBe(1);
  expect(sampleSum(families, 'taskq_tasks_retried_total', q)).toBe(0);
  expect(families.get('taskq_task_duration')?.type).toBe('histogram');
  expect(sampleSum(families, 'taskq_task_duration_count', { ...q, taskq_task_outcome: 'completed' })).toBe(3);
  expect(sampleSum(families, 'taskq_task_duration_bucket', { ...q, taskq_task_outcome: 'completed', le: '+Inf' })).toBe(
    3,
  );
  expect(sampleSum(families, 'taskq_task_queue_wait_count', q)).toBe(4);
  expect(families.get('taskq_tasks_running')?.type).toBe('gauge');
  expect(sampleSum(families, 'taskq_tasks_running', q)).toBe(0);
  // Labels are the queue, the task name, the outcome and the messaging ones: never an id.
  const labels = new Set([...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.keys(s.labels))));
  expect(
    [...labels]
      .filter((l) => !l.startsWith('otel_scope_') && !l.startsWith('telemetry_') && l !== 'service_name')
      .sort(),
  ).toEqual([
    'le',
    'messaging_destination_name',
    'taskq_dead_letter_reason',
    'taskq_queue',
    'taskq_task_name',
    'taskq_task_outcome',
  ]);
}

describe('Prometheus /metrics', () => {
  it('in an Express app', async () => {
    const app = express();
    app.get('/metrics', (req, res) => forExpress.getMetricsRequestHandler(req, res));
    const server = await listen(app.listen(0, '127.0.0.1'));
    try {
      const families = await scrape(`${server.url}/metrics`);
      console.log(`express: ${families.size} families: ${[...families.keys()].join(', ')}`);
      expectTaskMetrics(families);
    } finally {
      await server.close();
    }
  });

  it('in a Fastify app', async () => {
    const app = Fastify();
    app.get('/metrics', (request, reply) => {
      reply.hijack(); // the exporter writes the raw response itself
      forFastify.getMetricsRequestHandler(request.raw, reply.raw);
    });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      expectTaskMetrics(await scrape(`${url}/metrics`));
    } finally {
      await app.close();
    }
  });

  it('in a Nest app', async () => {
    const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      expectTaskMetrics(await scrape(`${url}/metrics`));
    } finally {
      await app.close();
    }
  });

  it("in a worker with no web framework, on the exporter's own port", async () => {
    expectTaskMetrics(await scrape(`http://127.0.0.1:${workerPort}/metrics`));
  });
});
