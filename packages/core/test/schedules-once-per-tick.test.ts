import { afterEach, describe, expect, it } from 'vitest';
import {
  createQueue,
  createScheduler,
  createWorker,
  currentTask,
  type FiredEvent,
  memory,
  memoryResultStore,
  type ResultStore,
  type Schedule,
  type Scheduler,
  type SkippedEvent,
  schedule,
  TaskRegistry,
  type TaskQueue,
  tickId,
  type Worker,
} from '../src/index.js';
import { RABBIT_URL, testBroker } from './support/rabbit.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually, sleep } from '../../../test-support/wait.js';

const runs: string[] = [];
async function tick(label: string) {
  runs.push(`${label}:${currentTask().id}`);
}
const registry = new TaskRegistry().add('tick', tick);

/** One scheduler process: its own connections (through its own proxy, to cut them), queue and scheduler. */
interface Member {
  readonly name: string;
  readonly scheduler: Scheduler;
  readonly queue: TaskQueue;
  readonly proxy: TcpProxy | undefined;
  readonly fired: FiredEvent[];
  readonly skipped: SkippedEvent[];
}

/** The ticks of `every: 1s` in [from, to], as the scheduler computes them. */
const secondsBetween = (from: number, to: number): number[] => {
  const ticks: number[] = [];
  for (let t = Math.ceil(from / 1000) * 1000; t <= to; t += 1000) ticks.push(t);
  return ticks;
};

describe('schedules on RabbitMQ: each tick once across schedulers', () => {
  const broker = testBroker('tqsched');
  const members: Member[] = [];
  const workers: Worker[] = [];
  const proxies: TcpProxy[] = [];

  afterEach(async () => {
    for (const member of members.splice(0)) {
      await member.scheduler.stop();
      await member.queue.close();
    }
    for (const worker of workers.splice(0)) await worker.stop({ timeout: 5_000 });
    for (const proxy of proxies.splice(0)) await proxy.close();
    await broker.cleanup();
    runs.length = 0;
  });

  async function startMember(
    name: string,
    schedules: readonly Schedule[],
    store: ResultStore | undefined,
    viaProxy = false,
  ): Promise<Member> {
    let proxy: TcpProxy | undefined;
    let url = RABBIT_URL;
    if (viaProxy) {
      proxy = await TcpProxy.start(Number(new URL(RABBIT_URL).port || 5672), new URL(RABBIT_URL).hostname);
      proxies.push(proxy);
      const parsed = new URL(RABBIT_URL);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(proxy.port);
      url = parsed.toString();
    }
    const queue = createQueue({ registry, transport: broker.amqp({ url, heartbeat: 1 }), store });
    const scheduler = createScheduler({ queue, schedules });
    const member: Member = { name, scheduler, queue, proxy, fired: [], skipped: [] };
    scheduler.on('fired', (event) => member.fired.push(event));
    scheduler.on('skipped', (event) => member.skipped.push(event));
    await scheduler.start();
    members.push(member);
    return member;
  }

  async function startWorker(name: string, store: ResultStore | undefined): Promise<void> {
    const worker = createWorker({ registry, transport: broker.amqp(), queues: [name], store, concurrency: 4 });
    workers.push(worker);
    await worker.start();
  }

  it('three schedulers with one store: every second exactly one task; the leader’s connection cut, another takes over and skips no tick', async () => {
    const name = broker.queue('ticks');
    const store = memoryResultStore();
    await startWorker(name, store);
    const every = schedule('every-second', { every: '1s', queue: name }, tick, 'a');
    const started = Date.now();
    for (const n of ['A', 'B', 'C']) await startMember(n, [every], store, true);
    await eventually(() => members.filter((m) => m.scheduler.leader).length === 1, 'a leader');
    await sleep(3_500);
    const first = members.find((m) => m.scheduler.leader) as Member;
    expect(members.filter((m) => m.scheduler.leader)).toHaveLength(1);

    // The leader's connections die (a RST): it stops leading, the broker hands the token to another scheduler.
    first.proxy?.reset();
    const killedAt = Date.now();
    await eventually(
      () => members.some((m) => m !== first && m.fired.some((f) => f.tick.getTime() > killedAt)),
      'a new leader firing',
    );
    await sleep(3_000);
    const stoppedAt = Date.now();
    for (const member of members) await member.scheduler.stop();
    const fired = members.flatMap((m) => m.fired);
    const ticks = fired.map((f) => f.tick.getTime()).sort((a, b) => a - b);
    // Every second from the first tick to the last has its task, and one only.
    const expected = secondsBetween(ticks[0], ticks[ticks.length - 1]);
    expect(ticks).toEqual(expected);
    expect(ticks[0] - started).toBeLessThan(3_000);
    expect(stoppedAt - ticks[ticks.length - 1]).toBeLessThan(2_000);
    const takers = new Set(fired.filter((f) => f.tick.getTime() > killedAt + 1_000).map((f) => f.schedule + f.id));
    expect(takers.size).toBeGreaterThan(0);
    expect(members.filter((m) => m !== first).some((m) => m.fired.length > 0)).toBe(true);
    await eventually(() => runs.length >= expected.length, `${expected.length} runs`);
    await sleep(500);
    const ids = expected.map((t) => `a:${tickId('every-second', t)}`);
    expect([...runs].sort()).toEqual([...ids].sort());
    console.log(
      `ticks ${expected.length}, runs ${runs.length}, fired by ${members.map((m) => `${m.name}=${m.fired.length}`).join(' ')}, duplicates recognised ${members.reduce((n, m) => n + m.skipped.filter((s) => s.reason === 'duplicate').length, 0)}`,
    );
  });

  it('all schedulers down for 4 s, then one starts: the last missed tick runs once, not the four', async () => {
    const name = broker.queue('catchup');
    await startWorker(name, undefined);
    const every = schedule('catch-up', { every: '1s', queue: name }, tick, 'c');
    const a = await startMember('A', [every], undefined);
    await eventually(() => a.fired.length >= 2, 'two ticks');
    await a.scheduler.stop();
    const lastBefore = Math.max(...a.fired.map((f) => f.tick.getTime()));
    await sleep(4_200);
    const beforeStart = Date.now();
    const b = await startMember('B', [every], undefined);
    const restartedAt = Date.now();
    await eventually(() => b.fired.some((f) => !f.catchUp), 'a regular tick after the restart');
    const caught = b.fired.filter((f) => f.catchUp).map((f) => f.tick.getTime());
    expect(caught).toHaveLength(1);
    // The latest tick before B started, and nothing between it and the last tick A fired.
    expect(caught[0]).toBeGreaterThan(beforeStart - 1_000);
    expect(caught[0]).toBeLessThanOrEqual(restartedAt);
    expect(caught[0] - lastBefore).toBeGreaterThanOrEqual(4_000);
    const all = [...a.fired, ...b.fired].map((f) => f.tick.getTime());
    expect(all.filter((t) => t > lastBefore && t < caught[0])).toEqual([]);
  });

  it('a changed spec takes effect at its next tick and catches nothing up of the old one; a removed schedule stops', async () => {
    const name = broker.queue('changed');
    await startWorker(name, undefined);
    const odd = schedule('changing', { every: '1s', queue: name }, tick, 'v1');
    const removed = schedule('removed', { every: '1s', queue: name }, tick, 'r');
    const v1 = await startMember('v1', [odd, removed], undefined);
    await eventually(() => v1.fired.filter((f) => f.schedule === 'changing').length >= 2, 'v1 ticks');
    // The deploy: the old version stops, the new one (other spec, `removed` gone) starts.
    await v1.scheduler.stop();
    const v2spec = schedule('changing', { every: '2s', anchor: new Date(1_000), queue: name }, tick, 'v2');
    const v2 = await startMember('v2', [v2spec], undefined);
    await sleep(4_500);
    await v2.scheduler.stop();
    expect(v2.fired.every((f) => f.schedule === 'changing' && !f.catchUp)).toBe(true);
    expect(v2.fired.length).toBeGreaterThanOrEqual(2);
    // Odd seconds only: the new anchor and interval.
    for (const f of v2.fired) expect((f.tick.getTime() / 1000) % 2).toBe(1);
  });

  it('overlap: false skips ticks while the previous run is unfinished', async () => {
    const name = broker.queue('overlap');
    const store = memoryResultStore();
    let release = false;
    const slowRegistry = new TaskRegistry().add('slow', slow);
    async function slow() {
      while (!release) await sleep(50);
    }
    const worker = createWorker({ registry: slowRegistry, transport: broker.amqp(), queues: [name], store });
    workers.push(worker);
    await worker.start();
    const queue = createQueue({ registry: slowRegistry, transport: broker.amqp(), store });
    const scheduler = createScheduler({
      queue,
      schedules: [schedule('no-overlap', { every: '1s', overlap: false, queue: name }, slow)],
    });
    const member: Member = { name: 'O', scheduler, queue, proxy: undefined, fired: [], skipped: [] };
    members.push(member);
    scheduler.on('fired', (e) => member.fired.push(e));
    scheduler.on('skipped', (e) => member.skipped.push(e));
    await scheduler.start();
    await eventually(() => member.fired.length === 1, 'the first tick');
    await eventually(() => member.skipped.length >= 3, 'three skipped ticks');
    expect(member.fired).toHaveLength(1);
    expect(member.skipped.every((s) => s.reason === 'overlap')).toBe(true);
    release = true;
    await eventually(() => member.fired.length >= 2, 'a tick after the run finished');
  });
});

describe('schedules on the memory transport', () => {
  it('two schedulers in one process: one leads, each tick once; when it stops the other takes over', async () => {
    const transport = memory();
    const fired: FiredEvent[] = [];
    const every = schedule('mem', { every: '1s' }, tick, 'm');
    const make = () => {
      const scheduler = createScheduler({ queue: createQueue({ registry, transport }), schedules: [every] });
      scheduler.on('fired', (event) => fired.push(event));
      return scheduler;
    };
    const a = make();
    const b = make();
    await a.start();
    await b.start();
    await eventually(() => fired.length >= 2, 'two ticks');
    expect(a.leader).toBe(true);
    expect(b.leader).toBe(false);
    await a.stop();
    await eventually(() => b.leader, 'b leads');
    const handedOver = fired.length;
    await eventually(() => fired.length >= handedOver + 2, 'two more ticks');
    await b.stop();
    const ticks = fired.map((f) => f.tick.getTime());
    expect(ticks).toEqual(secondsBetween(ticks[0], ticks[ticks.length - 1]));
    await transport.close();
  });
});

describe('schedules: a tick whose submit fails', () => {
  it('is tried again until it is submitted, not dropped: every tick fires once though the first submits failed', async () => {
    const transport = memory();
    let refusals = 3;
    const publish = transport.publish.bind(transport);
    // The broker refuses the first submits (it was away): the scheduler must keep the tick, not move past it.
    transport.publish = async (message) => {
      if (refusals > 0) {
        refusals--;
        throw new Error('broker away');
      }
      return publish(message);
    };
    const queue = createQueue({ registry, transport });
    const scheduler = createScheduler({
      queue,
      schedules: [schedule('retried', { every: '1s' }, tick, 'r')],
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    const fired: FiredEvent[] = [];
    const errors: string[] = [];
    scheduler.on('fired', (e) => fired.push(e));
    scheduler.on('error', (e) => errors.push(e.message));
    const started = Date.now();
    await scheduler.start();
    await eventually(() => fired.length >= 3, 'three ticks fired');
    await scheduler.stop();
    await queue.close();
    const ticks = fired.map((f) => f.tick.getTime());
    // The first tick after the start is among them: it was retried (250 + 500 + 1000 ms), not lost.
    expect(ticks[0]).toBe(Math.ceil(started / 1000) * 1000);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/failed; trying again in 250 ms/);
    // Contiguous, each once.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBe(1000);
  });
});
