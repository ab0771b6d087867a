/**
 * Isolates what taskq's wire format costs, with plain amqplib and nothing of
 * taskq: the same publish loop (window of 1,000, then waitForConfirms) sends
 * several message shapes (the raw bench's minimal body, taskq's envelope
 * versions 1 to 3, with or without `mandatory` and the two `x-taskq-*`
 * headers taskq 0.1 sent, a trace context in the body or in a header), and reports the rate, the producer's CPU per message
 * and the broker's (beam.smp) CPU per message. Rounds alternate the shapes so
 * that drift of a shared machine hits them alike.
 *
 *   node bench/dist/tools/wire-format.js [messages=50000] [rounds=3] [shape name part]
 *
 * Each shape gets its own `bench-<uuid>` queue, deleted afterwards.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import amqp, { type Options } from 'amqplib';
import { now, withTimeout } from '../clock.js';
import { AMQP_URL } from '../config.js';
import { startServerCpu } from '../server-cpu.js';
import { renderTable } from '../table.js';

type Body = (id: string, sentAt: number) => unknown;
interface Shape {
  readonly name: string;
  readonly body: Body;
  readonly headers: boolean;
  /** Published `mandatory`, as taskq does: an unroutable message comes back instead of being confirmed. */
  readonly mandatory: boolean;
  /** `content_type: application/json`, as the raw bench and taskq before envelope version 2 send. */
  readonly contentType: boolean;
  /**
   * Published through a direct exchange whose alternate exchange keeps what it cannot route (instead of through the
   * default exchange): the other way RabbitMQ offers to keep a message a deleted queue would otherwise lose.
   */
  readonly viaExchange?: boolean;
  /**
   * A W3C trace context (a `traceparent`, as a traced submit carries): in the body's `trace` field, as taskq sends it,
   * or in a message header instead.
   */
  readonly trace?: 'body' | 'header';
}

/** The raw bench's body: the task name and its arguments. */
const minimal: Body = (_id, sentAt) => ({ task: 'bench.add', args: [1, 2, sentAt] });
/** taskq's envelope version 1 (an empty `meta` always written). */
const envelopeV1: Body = (id, sentAt) => ({
  v: 1,
  id,
  task: 'bench.add',
  args: [1, 2, sentAt],
  meta: {},
  ts: Date.now(),
});
/** taskq's envelope version 2: no empty `meta`. */
const envelopeV2: Body = (id, sentAt) => ({ v: 2, id, task: 'bench.add', args: [1, 2, sentAt], ts: Date.now() });

/** taskq's envelope version 3: the id is the message id, the submit time the id's UUIDv7 time. */
const envelopeV3: Body = (_id, sentAt) => ({ v: 3, task: 'bench.add', args: [1, 2, sentAt] });
/** The raw bench's body padded past 64 bytes. */
const padded: Body = (_id, sentAt) => ({ task: 'bench.add', args: [1, 2, sentAt], pad: 'x'.repeat(20) });

const SHAPES: readonly Shape[] = [
  { name: 'minimal body (the raw row)', body: minimal, headers: false, mandatory: false, contentType: true },
  { name: 'minimal body, mandatory', body: minimal, headers: false, mandatory: true, contentType: true },
  {
    name: 'v1 + x-taskq headers, mandatory (taskq 0.1)',
    body: envelopeV1,
    headers: true,
    mandatory: true,
    contentType: true,
  },
  { name: 'v1, mandatory (taskq before v2)', body: envelopeV1, headers: false, mandatory: true, contentType: true },
  { name: 'v2, mandatory, content type', body: envelopeV2, headers: false, mandatory: true, contentType: true },
  { name: 'v2 (not mandatory)', body: envelopeV2, headers: false, mandatory: false, contentType: false },
  { name: 'v2, mandatory (taskq before v3)', body: envelopeV2, headers: false, mandatory: true, contentType: false },
  { name: 'minimal body padded past 64 bytes', body: padded, headers: false, mandatory: false, contentType: true },
  { name: 'v3 (not mandatory)', body: envelopeV3, headers: false, mandatory: false, contentType: false },
  { name: 'v3, mandatory (taskq now)', body: envelopeV3, headers: false, mandatory: true, contentType: false },
  {
    name: 'v3, direct exchange + alternate exchange',
    body: envelopeV3,
    headers: false,
    mandatory: false,
    contentType: false,
    viaExchange: true,
  },
  {
    name: 'v3, trace context in the body (taskq traced)',
    body: envelopeV3,
    headers: false,
    mandatory: false,
    contentType: false,
    viaExchange: true,
    trace: 'body',
  },
  {
    name: 'v3, trace context in a header',
    body: envelopeV3,
    headers: false,
    mandatory: false,
    contentType: false,
    viaExchange: true,
    trace: 'header',
  },
];

/** A sampled W3C `traceparent` with random ids, as a traced submit writes it. */
function traceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

const WINDOW = 1_000;

function message(shape: Shape): { body: Buffer; options: Options.Publish } {
  const id = randomUUID();
  const body = shape.body(id, now()) as Record<string, unknown>;
  if (shape.trace === 'body') body.trace = { traceparent: traceparent() };
  return {
    body: Buffer.from(JSON.stringify(body)),
    options: {
      persistent: true,
      messageId: id,
      ...(shape.contentType ? { contentType: 'application/json' } : {}),
      ...(shape.mandatory ? { mandatory: true } : {}),
      ...(shape.headers ? { headers: { 'x-taskq-task': 'bench.add', 'x-taskq-attempt': 1 } } : {}),
      ...(shape.trace === 'header' ? { headers: { 'taskq-traceparent': traceparent() } } : {}),
    },
  };
}

interface Sample {
  readonly rate: number;
  readonly producerUs: number;
  readonly brokerUs: number | undefined;
  readonly bytes: number;
}

async function measure(shape: Shape, count: number): Promise<Sample> {
  const connection = await amqp.connect(AMQP_URL);
  const queue = `bench-${randomUUID()}`;
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { durable: true });
    const exchange = shape.viaExchange ? `${queue}.x` : '';
    if (shape.viaExchange) {
      await channel.assertExchange(`${queue}.ae`, 'fanout', { durable: true });
      await channel.assertExchange(exchange, 'direct', { durable: true, alternateExchange: `${queue}.ae` });
      await channel.bindQueue(queue, exchange, queue);
    }
    const broker = startServerCpu('beam.smp');
    const cpu = process.cpuUsage();
    const start = now();
    for (let sent = 0; sent < count; sent += WINDOW) {
      for (let i = 0; i < Math.min(WINDOW, count - sent); i++) {
        const { body, options } = message(shape);
        channel.publish(exchange, queue, body, options);
      }
      await withTimeout(channel.waitForConfirms(), 60_000, 'confirms');
    }
    const seconds = (now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const brokerUs = broker();
    await channel.deleteQueue(queue);
    if (shape.viaExchange) {
      await channel.deleteExchange(exchange);
      await channel.deleteExchange(`${queue}.ae`);
    }
    return {
      rate: count / seconds,
      producerUs: (used.user + used.system) / count,
      brokerUs: brokerUs === undefined ? undefined : brokerUs / count,
      bytes: message(shape).body.length,
    };
  } finally {
    await connection.close();
  }
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 50_000);
  const rounds = Number(process.argv[3] ?? 3);
  if (!(count > 0 && count <= 1_000_000 && rounds >= 1 && rounds <= 20))
    throw new Error('usage: wire-format [messages 1..1e6] [rounds 1..20] [shape name part]');
  // An optional third argument keeps the shapes whose name contains it ("v3").
  const only = process.argv[4];
  const shapes = only === undefined ? SHAPES : SHAPES.filter((s) => s.name.includes(only));
  if (shapes.length === 0) throw new Error(`no message shape's name contains "${only}"`);
  const samples = new Map<string, Sample[]>(shapes.map((s) => [s.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const shape of shapes) {
      const sample = await measure(shape, count);
      samples.get(shape.name)?.push(sample);
      process.stderr.write(`round ${round}: ${shape.name}: ${Math.round(sample.rate)}/s\n`);
    }
  }
  const range = (values: readonly number[], digits = 0): string => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    return `${mid.toFixed(digits)} (${(sorted[0] ?? 0).toFixed(digits)}–${(sorted[sorted.length - 1] ?? 0).toFixed(digits)})`;
  };
  const rows = shapes.map((shape) => {
    const s = samples.get(shape.name) ?? [];
    const broker = s.map((x) => x.brokerUs).filter((x): x is number => x !== undefined);
    return [
      shape.name,
      String(s[0]?.bytes ?? ''),
      range(s.map((x) => x.rate)),
      range(s.map((x) => x.producerUs)),
      broker.length ? range(broker) : '–',
    ];
  });
  process.stdout.write(
    `${renderTable(['message', 'body bytes', 'msg/s', 'producer CPU µs/msg', 'broker CPU µs/msg'], rows)}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`wire-format failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
