/**
 * What the OpenTelemetry SDK alone costs per task, with no taskq and no broker: the calls `@taskq/opentelemetry`
 * makes for one task (a producer span whose context goes into a carrier and around the publish, a consumer span from
 * that carrier with a link to it, the attempt run inside its context, two histogram records), on the SDK set-up of
 * the traced rows (scenarios/otel-sdk.ts). Each role and variant runs in a child process of its own, since entering
 * an AsyncLocalStorage once turns on promise hooks for the rest of the process:
 *
 *   node bench/dist/tools/otel-floor.js [tasks] [rounds] [--sample <ratio>]
 *
 * A child does `tasks` tasks the way the bench's children do them (1,000 submits in flight, 100 attempts at once),
 * with the calls on or off, and reports its CPU time per task (with `--sample`, a parent-based sampler keeps that
 * ratio of the traces at the root, as the sampled row does); the table gives the median over rounds of "on" minus
 * "off": the SDK's floor for that part, which no instrumentation built on the SDK can go below.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  type Attributes,
  type Context,
  context,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import { installOtelSdk } from '../scenarios/otel-sdk.js';
import { median } from '../stats.js';
import { renderTable } from '../table.js';
import { positiveInteger } from './options.js';

const IN_FLIGHT = 1000;
const CONCURRENCY = 100;
/** How long a submit waits for its confirm: 1,000 in flight at about 12,000 traced submits per second. */
const CONFIRM_MS = 80;

const VARIANTS = [
  'producer-off',
  'producer-span',
  'producer-span-context',
  'worker-off',
  'worker-metrics',
  'worker-span',
  'worker-span-context',
  'worker-all',
] as const;
type Variant = (typeof VARIANTS)[number];

function isVariant(value: string | undefined): value is Variant {
  return (VARIANTS as readonly (string | undefined)[]).includes(value);
}

/** Task ids made before the clock starts (an id is taskq's, not the SDK's, work). */
const ids = Array.from({ length: IN_FLIGHT }, () => randomUUID());

/** A span's attributes, as a literal (the cheapest way to build them); an attempt's add its attempt numbers. */
function spanAttributes(operation: 'send' | 'process', id: string): Attributes {
  const attributes: Attributes = {
    'messaging.system': 'rabbitmq',
    'messaging.destination.name': 'taskq.q.bench',
    'taskq.queue': 'bench',
    'messaging.rabbitmq.destination.routing_key': 'taskq.q.bench',
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.message.id': id,
    'taskq.task.name': 'bench#add',
  };
  if (operation === 'process') {
    attributes['taskq.task.attempt'] = 1;
    attributes['taskq.task.max_attempts'] = 3;
  }
  return attributes;
}

const SERIES: Attributes = {
  'messaging.destination.name': 'taskq.q.bench',
  'taskq.queue': 'bench',
  'taskq.task.name': 'bench#add',
};
const SERIES_COMPLETED: Attributes = { ...SERIES, 'taskq.task.outcome': 'completed' };

/**
 * A producer's part of `tasks` submits, 1,000 in flight (1,000 loops, each awaiting its own submit, as the bench's
 * producer does): each span lasts until its "confirm", which comes CONFIRM_MS later, about as long as a submit of
 * the traced row waits for RabbitMQ's confirm with 1,000 in flight. Spans alive that long survive scavenges, as
 * taskq's do.
 */
async function produce(tasks: number, variant: Variant, carriers: Array<Record<string, string>>): Promise<void> {
  const tracer = trace.getTracer('otel-floor');
  const span = variant !== 'producer-off';
  const enter = variant === 'producer-span-context';
  const publish = () => new Promise<void>((resolve) => setTimeout(resolve, CONFIRM_MS));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks) {
      const n = next++;
      const carrier: Record<string, string> = {};
      if (carriers.length < IN_FLIGHT) carriers.push(carrier);
      if (!span) {
        await publish();
        continue;
      }
      const parent = context.active();
      const s = tracer.startSpan(
        'send bench',
        { kind: SpanKind.PRODUCER, attributes: spanAttributes('send', ids[n % ids.length] as string) },
        parent,
      );
      const ctx = trace.setSpan(parent, s);
      propagation.inject(ctx, carrier);
      await (enter ? context.with(ctx, publish) : publish());
      s.end();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

/** A worker's part of `tasks` attempts, 100 at once, each an async no-op task. */
async function work(tasks: number, variant: Variant, carriers: ReadonlyArray<Record<string, string>>): Promise<void> {
  const tracer = trace.getTracer('otel-floor');
  const meter = metrics.getMeter('otel-floor');
  const duration = meter.createHistogram('floor.duration', { unit: 's' });
  const queueWait = meter.createHistogram('floor.queue_wait', { unit: 's' });
  const span = variant === 'worker-span' || variant === 'worker-span-context' || variant === 'worker-all';
  const enter = variant === 'worker-span-context' || variant === 'worker-all';
  const measured = variant === 'worker-metrics' || variant === 'worker-all';
  const task = async (): Promise<number> => 3;
  const attempt = async (n: number): Promise<void> => {
    if (measured) queueWait.record(0.001, SERIES);
    const started = performance.now();
    if (!span) {
      await task();
    } else {
      // The carriers of 1,000 submits in turn: with a sampler, a tenth of them say "sampled".
      const extracted = propagation.extract(ROOT_CONTEXT, carriers[n % carriers.length] ?? {});
      const created = trace.getSpanContext(extracted);
      const s = tracer.startSpan(
        'process bench',
        {
          kind: SpanKind.CONSUMER,
          attributes: spanAttributes('process', ids[n % ids.length] as string),
          links: created ? [{ context: created }] : [],
        },
        extracted,
      );
      const ctx: Context = trace.setSpan(extracted, s);
      await (enter ? context.with(ctx, task) : task());
      s.setAttribute('taskq.task.outcome', 'completed');
      s.end();
    }
    if (measured) duration.record((performance.now() - started) / 1000, SERIES_COMPLETED);
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks) await attempt(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

async function child(variant: Variant, tasks: number, sampleRatio: number | undefined): Promise<void> {
  installOtelSdk(sampleRatio);
  const carriers: Array<Record<string, string>> = [];
  // Carriers as traced submits write them, for the worker's extract.
  await produce(IN_FLIGHT, 'producer-span', carriers);
  const run = () => (variant.startsWith('producer') ? produce(tasks, variant, []) : work(tasks, variant, carriers));
  await run(); // warm-up: the same amount, untimed
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  process.send?.({ usPerTask: (used.user + used.system) / tasks });
}

function runChild(variant: Variant, tasks: number, sampleRatio: number | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = ['--child', variant, String(tasks), sampleRatio === undefined ? '' : String(sampleRatio)];
    const proc = fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' });
    proc.once('message', (m) => resolve((m as { usPerTask: number }).usPerTask));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (code !== 0) reject(new Error(`${variant} exited with ${code}`));
    });
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const variant = args[1];
    if (!isVariant(variant)) throw new Error(`unknown variant ${variant}`);
    await child(variant, Number(args[2]), args[3] ? Number(args[3]) : undefined);
    return;
  }
  const at = args.indexOf('--sample');
  let sampleRatio: number | undefined;
  if (at >= 0) {
    sampleRatio = Number(args[at + 1]);
    if (!(sampleRatio > 0 && sampleRatio <= 1))
      throw new Error(`--sample takes a ratio in (0, 1], got ${args[at + 1]}`);
    args.splice(at, 2);
  }
  const tasks = args[0] === undefined ? 100_000 : positiveInteger('tasks', args[0]);
  const rounds = args[1] === undefined ? 3 : positiveInteger('rounds', args[1]);
  const results = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++)
    for (const variant of VARIANTS) results.get(variant)?.push(await runChild(variant, tasks, sampleRatio));
  const off = (role: 'producer' | 'worker') => median(results.get(`${role}-off`) ?? []);
  const sampling =
    sampleRatio === undefined ? 'every span sampled' : `${sampleRatio} of the traces sampled at the root`;
  console.log(
    `${tasks} tasks per child, ${rounds} rounds, ${sampling}; CPU µs per task, median; "extra" is over the same role with nothing on`,
  );
  const rows = VARIANTS.map((variant) => {
    const value = median(results.get(variant) ?? []);
    const role = variant.startsWith('producer') ? 'producer' : 'worker';
    return [variant, value.toFixed(1), (value - off(role)).toFixed(1)];
  });
  console.log(renderTable(['role: calls', 'µs per task', 'extra'], rows));
}

await main();
