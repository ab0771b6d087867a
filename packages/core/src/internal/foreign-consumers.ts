import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { PrefixClashError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskRegistry } from '../registry.js';
import type { Delivery, MessageHeaders, PresenceCard, PresenceNews, PresenceOptions } from '../transport.js';

/** How many times a message is passed back for another worker before it is dead-lettered. */
export const MAX_PASSES = 20;

/** Pause before a passed-back message comes round again: no hot loop between two workers. */
export const PASS_DELAY_MS = 1_000;

/** Header counting the passes. Unsigned: a forged count can only make a message die sooner. */
export const PASSED_HEADER = 'x-taskq-passed';

/** How long a starting worker waits for the other consumers of its queues to answer. */
const ANSWER_WAIT_MS = 2_000;

/** Task names travel in the card up to this much text; a bigger registry is known by its fingerprint only. */
const MAX_NAMES_CHARS = 131_072;

interface Peer {
  readonly card: PresenceCard;
  readonly tasks: ReadonlySet<string> | undefined;
}

/** What to do with a message whose task this worker does not have. */
export type ForeignRoute =
  | { readonly kind: 'pass'; readonly headers: MessageHeaders; readonly delayMs: number }
  | { readonly kind: 'dead'; readonly error: PrefixClashError };

/**
 * @internal The worker's side of the presence check: who else consumes its
 * queues, with which task set. Two applications sharing a prefix would
 * otherwise each take, and dead-letter as unknown, half of the other's tasks.
 */
export class ForeignConsumers {
  readonly card: PresenceCard;
  readonly #tasks: ReadonlySet<string>;
  readonly #refuse: boolean;
  readonly #logger: Logger;
  readonly #peers = new Map<string, Peer>();
  #started = false;
  #heard: (() => void) | undefined;

  constructor(registry: TaskRegistry, queues: readonly string[], policy: 'refuse' | 'warn', logger: Logger) {
    const names = registry.ids().sort();
    this.#tasks = new Set(names);
    this.#refuse = policy === 'refuse';
    this.#logger = logger;
    const fingerprint = createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 32);
    const tasks = names.reduce((n, name) => n + name.length + 3, 0) <= MAX_NAMES_CHARS ? names : undefined;
    this.card = {
      instance: randomUUID(),
      queues: [...queues],
      fingerprint,
      tasks,
      host:
        hostname()
          .replace(/[^A-Za-z0-9_.\-:]/g, '_')
          .slice(0, 255) || 'unknown',
      pid: process.pid,
    };
  }

  /** The consume option that wires this check into a transport that supports it. */
  presence(): PresenceOptions {
    return {
      card: this.card,
      onNews: (news) => this.#hear(news),
      beforeConsume: (consumers, restart) => this.#check(consumers, restart),
    };
  }

  /**
   * For a message whose task this worker does not have: passed back to its
   * queue while a worker that serves that task consumes it too; after
   * {@link MAX_PASSES}, dead with an error naming the clash. Undefined when
   * no such worker is known (an ordinary unknown task).
   */
  route(task: string, delivery: Delivery): ForeignRoute | undefined {
    const servers = [...this.#peers.values()].filter(
      (peer) => this.#differs(peer, delivery.queue) && (peer.tasks === undefined || peer.tasks.has(task)),
    );
    if (servers.length === 0) return undefined;
    const raw = delivery.headers[PASSED_HEADER];
    const passes = typeof raw === 'number' && Number.isSafeInteger(raw) && raw > 0 ? raw : 0;
    if (passes < MAX_PASSES)
      return { kind: 'pass', headers: { ...delivery.headers, [PASSED_HEADER]: passes + 1 }, delayMs: PASS_DELAY_MS };
    return {
      kind: 'dead',
      error: new PrefixClashError(
        `task "${task}" is not in this worker's registry; it was passed back ${passes} times for ${describe(servers)}, consumer(s) of queue "${delivery.queue}" with another task set, and none took it. ` +
          'Give each application its own prefix (or vhost), or stop the stale worker',
      ),
    };
  }

  #differs(peer: Peer, queue?: string): boolean {
    return (
      peer.card.fingerprint !== this.card.fingerprint &&
      (queue === undefined
        ? peer.card.queues.some((q) => this.card.queues.includes(q))
        : peer.card.queues.includes(queue))
    );
  }

  /** No task in common: another application, not another version of this one. */
  #otherApplication(peer: Peer): boolean {
    if (peer.tasks === undefined) return false;
    for (const task of peer.tasks) if (this.#tasks.has(task)) return false;
    return true;
  }

  #hear(news: PresenceNews): void {
    const { card } = news;
    if (news.kind === 'bye') {
      const peer = this.#peers.get(card.instance);
      this.#peers.delete(card.instance);
      if (peer && this.#differs(peer))
        this.#logger.info("a worker with another task set stopped consuming this worker's queues", where(card));
      return;
    }
    const known = this.#peers.has(card.instance);
    const peer: Peer = { card, tasks: card.tasks && new Set(card.tasks) };
    this.#peers.set(card.instance, peer);
    if (!known && this.#started && this.#differs(peer)) this.#report([peer]);
    this.#heard?.();
  }

  async #check(consumers: ReadonlyMap<string, number>, restart: boolean): Promise<void> {
    if (!restart) await this.#answers(consumers);
    const foreign = [...this.#peers.values()].filter((peer) => this.#differs(peer));
    this.#started = true;
    if (foreign.length === 0) return;
    const others = foreign.filter((peer) => this.#otherApplication(peer));
    if (!restart && this.#refuse && others.length > 0) {
      this.#started = false;
      throw new PrefixClashError(
        `${describe(others)} already consume(s) queue(s) ${sharedQueues(others, this.card.queues)} of this prefix with a task set that shares no task with this worker's: ` +
          "another application uses the same prefix. Give each application its own prefix (amqp({ prefix })) or vhost; option onForeignConsumer: 'warn' starts anyway",
      );
    }
    this.#report(foreign);
  }

  #report(peers: readonly Peer[]): void {
    for (const peer of peers) {
      const fields = { ...where(peer.card), queues: sharedQueues([peer], this.card.queues), ...this.#difference(peer) };
      if (this.#otherApplication(peer)) {
        this.#logger.error(
          "PREFIX CLASH: another application consumes this worker's queues (same prefix, no task in common); each takes messages meant for the other. Give each application its own prefix or vhost",
          fields,
        );
      } else {
        this.#logger.warn(
          "a worker with another task set consumes this worker's queues (another version of this application?); tasks only it has are passed back to the queue for it",
          fields,
        );
      }
    }
  }

  #difference(peer: Peer): Record<string, string> {
    if (peer.tasks === undefined) return { theirTasks: '(too many to list)' };
    const onlyHere = [...this.#tasks].filter((task) => !peer.tasks?.has(task));
    const onlyThere = [...peer.tasks].filter((task) => !this.#tasks.has(task));
    return { onlyHere: sample(onlyHere), onlyThere: sample(onlyThere) };
  }

  /** Waits until every consumer already on the queues has answered, or {@link ANSWER_WAIT_MS}. */
  async #answers(consumers: ReadonlyMap<string, number>): Promise<void> {
    const missing = (): Array<[string, number]> =>
      [...consumers]
        .map(([queue, count]): [string, number] => [
          queue,
          count - [...this.#peers.values()].filter((peer) => peer.card.queues.includes(queue)).length,
        ])
        .filter(([, n]) => n > 0);
    if (missing().length === 0) return;
    const deadline = Date.now() + ANSWER_WAIT_MS;
    while (missing().length > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#heard = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#heard = undefined;
    }
    for (const [queue, n] of missing()) {
      this.#logger.warn(
        `${n} consumer(s) of queue "${queue}" did not answer the prefix check (an older taskq, or another client): they may serve another task set`,
        { queue },
      );
    }
  }
}

function where(card: PresenceCard): Record<string, string | number> {
  return { host: card.host, pid: card.pid, fingerprint: card.fingerprint };
}

function describe(peers: readonly Peer[]): string {
  const shown = peers.slice(0, 3).map((peer) => `the worker on ${peer.card.host} (pid ${peer.card.pid})`);
  return peers.length > shown.length ? `${shown.join(', ')} and ${peers.length - shown.length} more` : shown.join(', ');
}

function sharedQueues(peers: readonly Peer[], mine: readonly string[]): string {
  return mine.filter((queue) => peers.some((peer) => peer.card.queues.includes(queue))).join(',');
}

function sample(names: readonly string[]): string {
  if (names.length === 0) return '-';
  return names.length > 10 ? `${names.slice(0, 10).join(',')},… ${names.length - 10} more` : names.join(',');
}
