import type { FinishedMinute, ResultStore, TaskQueue, TaskState, WorkerHeartbeat } from '@taskq/core';
import type { DeadLetterRecord, StoredStatus } from '@taskq/core/adapter';
import type { WorkerRoster } from './roster.js';

/** The states in the order the dashboard shows them. */
export const STATES: readonly TaskState[] = ['queued', 'active', 'retrying', 'succeeded', 'dead', 'cancelled'];

/** Minutes on the overview's chart. */
export const CHART_MINUTES = 60;

/** One logical queue on the overview. */
export interface QueueSummary {
  readonly name: string;
  readonly depth: number;
  readonly consumers: number;
  readonly paused: boolean;
  /** Tasks running in the live workers that consume it. */
  readonly running: number;
  /** Live workers that consume it (paused or not). */
  readonly workers: number;
  /** Oldest minute first, {@link CHART_MINUTES} of them, the last one the current minute. */
  readonly minutes: readonly { readonly at: number; readonly succeeded: number; readonly dead: number }[];
}

export interface Overview {
  readonly queues: readonly QueueSummary[];
  readonly deadLetters: number;
  readonly workers: number;
  /** False when the store keeps no per-minute counts (no chart). */
  readonly history: boolean;
}

/**
 * The per-minute counts of the chart, kept between overviews: a minute more than one minute old is settled (its
 * tasks were written), so each overview reads only the last two minutes from the store, not the hour.
 */
export class FinishedHistory {
  readonly #minutes = new Map<number, FinishedMinute[]>();
  #settledBefore: number | undefined;

  async read(store: ResultStore, firstMinute: number, now: number): Promise<FinishedMinute[] | undefined> {
    if (!store.finishedPerMinute) return undefined;
    const currentMinute = now - (now % 60_000);
    const since =
      this.#settledBefore !== undefined && this.#settledBefore > firstMinute ? this.#settledBefore : firstMinute;
    const fresh = await store.finishedPerMinute(new Date(since));
    for (const minute of [...this.#minutes.keys()])
      if (minute >= since || minute < firstMinute) this.#minutes.delete(minute);
    for (const entry of fresh) {
      const minute = entry.minute.getTime();
      if (minute < firstMinute) continue;
      const list = this.#minutes.get(minute) ?? [];
      list.push(entry);
      this.#minutes.set(minute, list);
    }
    this.#settledBefore = currentMinute - 60_000;
    return [...this.#minutes.values()].flat();
  }
}

/** Depth, consumers and paused state of one queue, from the broker. */
type QueueState = { readonly depth: number; readonly consumers: number; readonly paused: boolean };

/**
 * The broker's answers about queues, each kept for a short while: every open page re-reads the overview on its
 * refresh, and a question to the broker costs a channel; pages open at the same moment share one answer.
 */
export class BrokerAnswers {
  readonly #ttlMs: number;
  readonly #answers = new Map<string, { at: number; answer: Promise<unknown> }>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  get<T>(key: string, ask: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const kept = this.#answers.get(key);
    if (kept && now - kept.at < this.#ttlMs) return kept.answer as Promise<T>;
    const answer = ask();
    // Asked ahead: an answer nobody awaits must not leave a rejection unhandled, nor be kept.
    answer.catch(() => this.#answers.delete(key));
    this.#answers.set(key, { at: now, answer });
    if (this.#answers.size > 1_000) this.#answers.delete(this.#answers.keys().next().value as string);
    return answer;
  }

  /** Forgets everything (after an action changed what the broker would say). */
  clear(): void {
    this.#answers.clear();
  }
}

/**
 * What the overview shows: one store query (the last hour), the newest queued tasks, two broker questions per
 * queue. The queues of the previous overview are asked about at once, beside the store query, so a page costs the
 * slower of the two rather than their sum; a queue first seen in the store's answer is asked about after it.
 */
export async function loadOverview(
  queue: TaskQueue,
  roster: WorkerRoster,
  configured: readonly string[],
  lastSeen: Set<string>,
  broker: BrokerAnswers,
  history: FinishedHistory,
): Promise<Overview> {
  const now = Date.now();
  const firstMinute = now - (now % 60_000) - (CHART_MINUTES - 1) * 60_000;
  const store = queue.store;
  const control = queue.transport.control;
  const ask = (name: string): Promise<QueueState> =>
    broker.get(`queue ${name}`, async () => {
      if (!control) return { depth: 0, consumers: 0, paused: false };
      const [info, paused] = await Promise.all([control.queueInfo(name), control.isPaused(name)]);
      return { ...info, paused };
    });
  const workers = await roster.list();
  for (const name of [...configured, ...lastSeen, ...workers.flatMap((w) => w.queues)]) ask(name);
  const [finished, deadLetters, waiting] = await Promise.all([
    store ? history.read(store, firstMinute, now) : Promise.resolve(undefined),
    broker.get('dead letters', () => queue.transport.dead.count()),
    // The newest queued tasks name the queues that wait for a worker, which no heartbeat or finished task names.
    store?.list ? store.list({ state: 'queued', limit: 100 }) : Promise.resolve({ items: [] }),
  ]);
  const names = new Set(configured);
  for (const task of waiting.items) names.add(task.queue);
  for (const worker of workers) for (const name of worker.queues) names.add(name);
  for (const minute of finished ?? []) names.add(minute.queue);
  if (names.size === 0) names.add('default');
  lastSeen.clear();
  for (const name of names) lastSeen.add(name);
  const queues = await Promise.all(
    [...names].sort().map(async (name): Promise<QueueSummary> => {
      const state = await ask(name);
      const consuming = workers.filter((w) => w.queues.includes(name));
      return {
        name,
        ...state,
        running: consuming.reduce((sum, w) => sum + w.running, 0),
        workers: consuming.length,
        minutes: minutesOf(finished ?? [], name, firstMinute),
      };
    }),
  );
  return { queues, deadLetters, workers: workers.length, history: finished !== undefined };
}

function minutesOf(finished: readonly FinishedMinute[], queue: string, firstMinute: number): QueueSummary['minutes'] {
  const minutes = Array.from({ length: CHART_MINUTES }, (_, i) => ({
    at: firstMinute + i * 60_000,
    succeeded: 0,
    dead: 0,
  }));
  for (const m of finished) {
    if (m.queue !== queue) continue;
    const index = Math.round((m.minute.getTime() - firstMinute) / 60_000);
    if (index < 0 || index >= CHART_MINUTES) continue;
    minutes[index].succeeded += m.succeeded;
    minutes[index].dead += m.dead;
  }
  return minutes;
}

/** The filters of the tasks page, from its query string. */
export interface TaskFilters {
  readonly state?: TaskState;
  readonly name?: string;
  readonly queue?: string;
  readonly id?: string;
  readonly cursor?: string;
}

export function taskFilters(query: URLSearchParams): TaskFilters {
  const text = (key: string): string | undefined => {
    const value = query.get(key)?.trim();
    return value ? value.slice(0, 300) : undefined;
  };
  const state = text('state');
  return {
    state: STATES.includes(state as TaskState) ? (state as TaskState) : undefined,
    name: text('name'),
    queue: text('queue'),
    id: text('id'),
    cursor: text('cursor'),
  };
}

export const PAGE_SIZE = 50;

/** The workers page: live workers and the active tasks each runs (as the store knows them). */
export interface WorkersModel {
  readonly workers: readonly WorkerHeartbeat[];
  readonly running: ReadonlyMap<string, readonly StoredStatus[]>;
  /** When each worker's latest heartbeat was heard (ms since the epoch). */
  readonly lastHeard: ReadonlyMap<string, number>;
}

export async function loadWorkers(queue: TaskQueue, roster: WorkerRoster): Promise<WorkersModel> {
  const [workers, active] = await Promise.all([
    roster.list(),
    queue.store?.list ? queue.store.list({ state: 'active', limit: 500 }) : Promise.resolve({ items: [] }),
  ]);
  const running = new Map<string, StoredStatus[]>();
  for (const task of active.items) {
    if (task.workerId === undefined) continue;
    const list = running.get(task.workerId) ?? [];
    list.push(task);
    running.set(task.workerId, list);
  }
  return { workers, running, lastHeard: new Map(workers.map((w) => [w.id, roster.lastHeard(w.id) ?? Date.now()])) };
}

export interface DeadModel {
  readonly letters: readonly DeadLetterRecord[];
  readonly total: number;
}

export const DEAD_PAGE = 100;

export async function loadDead(queue: TaskQueue): Promise<DeadModel> {
  const [letters, total] = await Promise.all([queue.transport.dead.list(DEAD_PAGE), queue.transport.dead.count()]);
  return { letters, total };
}
