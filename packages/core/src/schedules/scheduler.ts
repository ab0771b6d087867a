import { ClosedError, InvalidOptionError } from '../errors.js';
import { TypedEmitter } from '../internal/emitter.js';
import { longTimeout } from '../internal/long-timeout.js';
import { type Logger, useLogger } from '../logger.js';
import { isFinished } from '../result-store.js';
import type { TaskQueue } from '../task-queue.js';
import type { Leadership } from '../transport.js';
import type { ScheduleMark, TickClaims } from './claims.js';
import { DuplicateScheduleError, NoLeadershipError } from './errors.js';
import { type ResolvedSchedule, resolvedSchedule, type Schedule } from './spec.js';
import { decodeMarks, encodeMarks } from './state.js';
import { dueTicks } from './ticks.js';
import { tickId } from './tick-id.js';

/** Options of {@link createScheduler}. */
export interface SchedulerOptions {
  /** The queue the ticks' tasks are submitted with (its transport elects the leader, its store sees duplicates). */
  readonly queue: TaskQueue;
  /** The schedules to run; ids must be unique. Schedules not listed here are not fired by this scheduler. */
  readonly schedules: readonly Schedule[];
  /**
   * Tick claims in a database (`sqlTickClaims()` of @taskq/typeorm): every scheduler claims every tick and the one
   * that records the claim submits, in the same database transaction. Without it the transport elects one leader
   * that fires every tick.
   */
  readonly claims?: TickClaims;
  /** @defaultValue warnings and errors to stderr */
  readonly logger?: Logger;
  /**
   * The clock, in epoch milliseconds. For tests (a fixed offset puts the scheduler in another time, a daylight
   * saving change say); timers still wait real time.
   * @defaultValue `Date.now`
   */
  readonly now?: () => number;
}

/** A tick that submitted its task. */
export interface FiredEvent {
  readonly schedule: string;
  readonly tick: Date;
  /** The task id (derived from the schedule id and the tick). */
  readonly id: string;
  /** True for a tick missed while no scheduler ran, fired at start-up. */
  readonly catchUp: boolean;
}

/** A tick this scheduler did not submit, and why. */
export interface SkippedEvent {
  readonly schedule: string;
  readonly tick: Date;
  readonly id: string;
  /**
   * `overlap`: the previous tick's task is unfinished (`overlap: false`); `duplicate`: the store already knows the
   * tick's task; `claimed`: another scheduler claimed the tick.
   */
  readonly reason: 'overlap' | 'duplicate' | 'claimed';
}

/** What a scheduler tells its listeners. */
export interface SchedulerEvents {
  fired: (event: FiredEvent) => void;
  skipped: (event: SkippedEvent) => void;
  /** This scheduler became the one that fires ticks (true), or stopped being it. Always true with claims. */
  leadership: (event: { readonly leader: boolean }) => void;
  /** A tick could not be handled (its submit failed), or the state could not be read or written. */
  error: (event: { readonly message: string; readonly error: unknown }) => void;
}

/** Runs schedules: see {@link createScheduler}. */
export interface Scheduler extends AsyncDisposable {
  readonly schedules: readonly Schedule[];
  /** Whether this scheduler fires ticks now (the leader, or any scheduler with claims). */
  readonly leader: boolean;
  /** Joins the election (or, with claims, starts firing); resolves once joined. */
  start(): Promise<void>;
  /** Stops firing, waits for ticks being submitted, hands the leadership on. Leaves the queue open. */
  stop(): Promise<void>;
  on<E extends keyof SchedulerEvents>(event: E, listener: SchedulerEvents[E]): void;
  off<E extends keyof SchedulerEvents>(event: E, listener: SchedulerEvents[E]): void;
}

/** Ticks later than this many behind are dropped (with a warning) rather than submitted in a burst. */
const MAX_DUE = 100;
/** Waits between tries of a tick whose submit failed: doubling from the first, up to the last. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 10_000;
/** The scheduler's group in the transport's leader election. */
const GROUP = 'schedules';

/** What became of a tick: its task submitted now, found submitted before (a duplicate), or skipped (overlap). */
type Outcome = 'submitted' | 'duplicate' | 'skipped';

interface Entry {
  readonly resolved: ResolvedSchedule;
  /** Last tick considered (fired, skipped or passed over), epoch ms. */
  cursor: number;
  cancel: (() => void) | undefined;
  /** The tick being handled: ticks of one schedule are handled one after the other. */
  running: Promise<void>;
}

class TaskScheduler implements Scheduler {
  readonly schedules: readonly Schedule[];
  readonly #queue: TaskQueue;
  readonly #claims: TickClaims | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #entries: Entry[];
  readonly #events: TypedEmitter<SchedulerEvents>;
  #marks = new Map<string, ScheduleMark>();
  #leadership: Leadership | undefined;
  #joining: Promise<Leadership> | undefined;
  #active = false;
  /** Bumped at every change of leadership: loops of an older generation stop. */
  #generation = 0;
  #aliveSince = 0;
  #state: 'new' | 'started' | 'stopped' = 'new';
  #starting: Promise<void> | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** Ends the waits between tries of a failed tick (on stop or loss of the leadership). */
  readonly #wakers = new Set<() => void>();

  constructor(options: SchedulerOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object');
    const { queue, schedules, claims } = options;
    if (!queue || typeof queue.submit !== 'function' || typeof queue.with !== 'function')
      throw new InvalidOptionError('queue', 'expected a TaskQueue from createQueue()');
    if (!Array.isArray(schedules)) throw new InvalidOptionError('schedules', 'expected an array of schedule(...)');
    if (claims !== undefined && (typeof claims?.claim !== 'function' || typeof claims.marks !== 'function'))
      throw new InvalidOptionError('claims', 'expected TickClaims such as sqlTickClaims(dataSource, queue)');
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new InvalidOptionError('now', 'expected a function returning epoch milliseconds');
    if (!claims && typeof queue.transport.leadership !== 'function') throw new NoLeadershipError(queue.transport.kind);
    const seen = new Set<string>();
    this.#entries = schedules.map((value, i) => {
      const resolved = resolvedSchedule(value, `schedules[${i}]`);
      const { id } = resolved.schedule;
      if (seen.has(id)) throw new DuplicateScheduleError(id);
      seen.add(id);
      // Refused now, not at the first tick: a function the registry does not know can never be submitted.
      queue.registry.require(resolved.schedule.fn);
      if (!resolved.overlap && !queue.store)
        throw new InvalidOptionError(
          `schedules[${i}].overlap`,
          `schedule ${id} has overlap: false, which looks up the previous tick's task in a result store: give the queue one (createQueue({ store }))`,
        );
      return { resolved, cursor: 0, cancel: undefined, running: Promise.resolve() };
    });
    this.schedules = Object.freeze([...schedules]);
    this.#queue = queue;
    this.#claims = claims;
    this.#logger = useLogger(options.logger);
    this.#now = options.now ?? Date.now;
    this.#events = new TypedEmitter<SchedulerEvents>(this.#logger);
  }

  get leader(): boolean {
    return this.#active;
  }

  on<E extends keyof SchedulerEvents>(event: E, listener: SchedulerEvents[E]): void {
    this.#events.on(event, listener);
  }

  off<E extends keyof SchedulerEvents>(event: E, listener: SchedulerEvents[E]): void {
    this.#events.off(event, listener);
  }

  start(): Promise<void> {
    if (this.#state === 'stopped') return Promise.reject(new ClosedError('the scheduler'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#state = 'started';
    this.#aliveSince = this.#now();
    if (this.#claims) {
      this.#activate();
      return;
    }
    const transport = this.#queue.transport;
    if (!transport.leadership) throw new NoLeadershipError(transport.kind);
    // The token can arrive before the join resolves: #resume waits for the join before it reads the state.
    this.#joining = transport.leadership(GROUP, (leader) => {
      if (this.#state !== 'started') return;
      if (leader) this.#activate();
      else this.#deactivate();
    });
    this.#leadership = await this.#joining;
  }

  #activate(): void {
    if (this.#active) return;
    this.#active = true;
    const generation = ++this.#generation;
    this.#events.emit('leadership', { leader: true });
    void this.#resume(generation);
  }

  #deactivate(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#generation++;
    for (const entry of this.#entries) {
      entry.cancel?.();
      entry.cancel = undefined;
    }
    for (const wake of [...this.#wakers]) wake();
    this.#events.emit('leadership', { leader: false });
  }

  /** Reads what is known of the schedules' past, then runs each schedule's missed ticks and its loop. */
  async #resume(generation: number): Promise<void> {
    let marks: Map<string, ScheduleMark>;
    try {
      marks = await this.#readMarks();
    } catch (error) {
      // Without the past no tick is known as fired: go on from now (the deterministic ids make a re-fire recognisable).
      this.#report('reading the schedules state failed; going on without it', error);
      marks = new Map();
    }
    if (generation !== this.#generation) return;
    this.#marks = marks;
    const now = this.#now();
    for (const entry of this.#entries) {
      const { resolved } = entry;
      const known = marks.get(resolved.schedule.id);
      const mark = known && known.spec === resolved.fingerprint ? known : undefined;
      const { catchUp, alive, dropped } = dueTicks(resolved, mark?.tick, this.#aliveSince, now, MAX_DUE);
      if (dropped > 0) this.#warnDropped(resolved, dropped);
      entry.cursor = now;
      entry.running = this.#handleAll(entry, generation, [
        ...catchUp.map((tick) => ({ tick, catchUp: true })),
        ...alive.map((tick) => ({ tick, catchUp: false })),
      ]).then(() => this.#arm(entry, generation));
    }
  }

  async #readMarks(): Promise<Map<string, ScheduleMark>> {
    if (this.#claims) return this.#claims.marks(this.#entries.map((e) => e.resolved.schedule.id));
    const leadership = await this.#joining;
    if (!leadership) return new Map();
    return decodeMarks(await leadership.readState());
  }

  #arm(entry: Entry, generation: number): void {
    if (generation !== this.#generation) return;
    const next = entry.resolved.nextAfter(entry.cursor);
    if (next === undefined) return;
    entry.cancel = longTimeout(
      () => {
        entry.cancel = undefined;
        if (generation !== this.#generation) return;
        const now = this.#now();
        // A timer may fire a little early by this clock (or the injected one): wait for the tick.
        if (now < next) return this.#arm(entry, generation);
        const { alive, dropped } = dueTicks(entry.resolved, entry.cursor, entry.cursor, now, MAX_DUE);
        if (dropped > 0) this.#warnDropped(entry.resolved, dropped);
        entry.cursor = now;
        entry.running = this.#handleAll(
          entry,
          generation,
          alive.map((tick) => ({ tick, catchUp: false })),
        ).then(() => this.#arm(entry, generation));
      },
      Math.max(0, next - this.#now()),
    );
  }

  #warnDropped(resolved: ResolvedSchedule, dropped: number): void {
    this.#logger.warn(`schedule ${resolved.schedule.id}: ${dropped} overdue tick(s) dropped, only the latest run`, {
      kept: MAX_DUE,
    });
  }

  async #handleAll(
    entry: Entry,
    generation: number,
    ticks: readonly { tick: number; catchUp: boolean }[],
  ): Promise<void> {
    for (const { tick, catchUp } of ticks) {
      // A tick whose submit (or claim) failed is tried again while this scheduler leads: the broker or the database
      // being away for a while must not lose a tick. Its id is the same each time, so a submit that did reach the
      // broker before its confirm was lost is a recognisable duplicate, not a second tick.
      for (let failures = 0; ; failures++) {
        if (generation !== this.#generation) return;
        try {
          await this.#handle(entry.resolved, tick, catchUp, generation);
          break;
        } catch (error) {
          const waitMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures);
          this.#report(
            `schedule ${entry.resolved.schedule.id}: the tick of ${new Date(tick).toISOString()} failed; trying again in ${waitMs} ms`,
            error,
          );
          await this.#pause(waitMs);
        }
      }
    }
  }

  /** Waits `ms`, or less when the scheduler stops or loses the leadership meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  async #handle(resolved: ResolvedSchedule, tick: number, catchUp: boolean, generation: number): Promise<void> {
    const scheduleId = resolved.schedule.id;
    const id = tickId(scheduleId, tick);
    const claims = this.#claims;
    if (claims) {
      let previous = this.#marks.get(scheduleId)?.fired;
      // Another scheduler may have fired the previous tick: its claim, not this process's memory, says which.
      if (!resolved.overlap) previous = (await claims.marks([scheduleId])).get(scheduleId)?.fired;
      let outcome = 'skipped' as Outcome;
      const claim = { schedule: scheduleId, tick: new Date(tick), spec: resolved.fingerprint };
      const claimed = await claims.claim(claim, async () => {
        outcome = await this.#decide(resolved, tick, id, previous, false);
        return outcome === 'skipped' ? undefined : id;
      });
      if (!claimed) {
        this.#events.emit('skipped', { schedule: scheduleId, tick: new Date(tick), id, reason: 'claimed' });
        return;
      }
      this.#mark(resolved, tick, outcome !== 'skipped');
      if (outcome === 'submitted')
        this.#events.emit('fired', { schedule: scheduleId, tick: new Date(tick), id, catchUp });
      return;
    }
    if (generation !== this.#generation || !this.#leadership?.leader) return;
    const outcome = await this.#decide(resolved, tick, id, this.#marks.get(scheduleId)?.fired, true);
    this.#mark(resolved, tick, outcome !== 'skipped');
    if (outcome === 'submitted')
      this.#events.emit('fired', { schedule: scheduleId, tick: new Date(tick), id, catchUp });
    await this.#writeMarks();
  }

  /** Submits the tick's task unless the store says it exists or (overlap: false) the previous one is unfinished. */
  async #decide(
    resolved: ResolvedSchedule,
    tick: number,
    id: string,
    previous: number | undefined,
    checkDuplicate: boolean,
  ): Promise<Outcome> {
    const store = this.#queue.store;
    const { schedule } = resolved;
    const skipped = (reason: SkippedEvent['reason']) =>
      this.#events.emit('skipped', { schedule: schedule.id, tick: new Date(tick), id, reason });
    if (store && checkDuplicate && (await store.get(id)) !== null) {
      // An earlier leader submitted it and could not record that: it counts as fired, once.
      skipped('duplicate');
      return 'duplicate';
    }
    if (!resolved.overlap && store && previous !== undefined && previous !== tick) {
      const before = await store.get(tickId(schedule.id, previous));
      if (before && !isFinished(before.state)) {
        skipped('overlap');
        return 'skipped';
      }
    }
    await this.#queue.with({ ...resolved.taskOptions, id }).submit(schedule.fn, ...schedule.args);
    return 'submitted';
  }

  #mark(resolved: ResolvedSchedule, tick: number, fired: boolean): void {
    const id = resolved.schedule.id;
    const before = this.#marks.get(id);
    const spec = resolved.fingerprint;
    const previousFired = before?.spec === spec ? before.fired : undefined;
    this.#marks.set(id, { tick, fired: fired ? tick : previousFired, spec });
  }

  /** Writes the marks for the next leader; writes queue up so the last one written is the latest. */
  #writeMarks(): Promise<void> {
    const leadership = this.#leadership;
    if (!leadership) return Promise.resolve();
    const write = this.#writing.then(async () => {
      if (!leadership.leader) return;
      try {
        await leadership.writeState(encodeMarks(this.#marks, this.#now()));
      } catch (error) {
        this.#report('writing the schedules state failed', error);
      }
    });
    this.#writing = write;
    return write;
  }

  #report(message: string, error: unknown): void {
    if (this.#events.has('error')) this.#events.emit('error', { message, error });
    else this.#logger.error(message, { error });
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasNew = this.#state === 'new';
    this.#state = 'stopped';
    if (wasNew) return;
    await this.#starting?.catch(() => {});
    this.#deactivate();
    await Promise.all(this.#entries.map((entry) => entry.running));
    await this.#writing;
    await this.#leadership?.leave();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Creates a scheduler for these schedules. Start as many as you like (one per web or worker process, or their own
 * processes): each tick is submitted once. On RabbitMQ alone (or the memory transport) the schedulers elect a leader
 * that fires the ticks; with `claims` (the SQL store) every scheduler claims each tick in the database and the one
 * that claims it submits. The tick's task id derives from the schedule id and the tick time, so a duplicate is
 * recognisable. See docs/schedules.md.
 *
 * @example
 * const scheduler = createScheduler({ queue, schedules: [nightly, sync] });
 * await scheduler.start();
 * // on shutdown
 * await scheduler.stop();
 */
export function createScheduler(options: SchedulerOptions): Scheduler {
  return new TaskScheduler(options);
}
