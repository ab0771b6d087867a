/**
 * Parent side of the children: fork, typed waits, stall watchdog, and a stop
 * that always ends the process (SIGKILL after a grace period), so a broken
 * scenario never leaves a child behind or hangs the bench.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TimeoutError, withTimeout } from './clock.js';
import { CHILD_START_MS, CHILD_STOP_MS, STALL_MS } from './config.js';
import type { ChildConfig, ChildMessage, ParentMessage } from './ipc.js';

export class StallError extends Error {
  override readonly name = 'StallError';
}

/**
 * Fails a measurement that makes no progress for STALL_MS. Every message from
 * a child it watches counts as progress (children send `progress` only when
 * their count changed), so a slow but moving run is never cut short.
 */
export class Watchdog {
  #last = Date.now();

  bump(): void {
    this.#last = Date.now();
  }

  /** Resolves with `promise`, or rejects once nothing moved for `stallMs`. */
  async guard<T>(promise: Promise<T>, what: string, stallMs = STALL_MS): Promise<T> {
    this.bump();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        const idle = Date.now() - this.#last;
        if (idle > stallMs) reject(new StallError(`${what}: no progress for ${Math.round(idle / 1000)} s`));
      }, 1000);
    });
    try {
      return await Promise.race([promise, stalled]);
    } finally {
      clearInterval(timer);
    }
  }
}

type MessageOf<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

interface Waiter {
  readonly type: ChildMessage['type'];
  readonly resolve: (message: ChildMessage) => void;
  readonly reject: (error: Error) => void;
}

export type ChildScript = 'worker' | 'producer' | 'inprocess' | 'outbox';

export interface ForkOptions {
  /** Extra node flags, e.g. --expose-gc or --cpu-prof. */
  readonly execArgv?: readonly string[];
}

/** Every child not yet exited, so an interrupted bench can kill them all (see run.ts). */
const live = new Set<Child>();

export function killAllChildren(): void {
  for (const child of live) child.kill();
}

export class Child {
  readonly #process: ChildProcess;
  readonly #inbox: ChildMessage[] = [];
  readonly #waiters: Waiter[] = [];
  #failure: Error | undefined;
  readonly #exited: Promise<void>;
  /** The last `progress` count the child reported. */
  progress = 0;

  constructor(
    readonly label: string,
    script: ChildScript,
    config: ChildConfig,
    watchdog: Watchdog,
    options: ForkOptions = {},
  ) {
    const path = fileURLToPath(new URL(`./children/${script}.js`, import.meta.url));
    this.#process = fork(path, [JSON.stringify(config)], {
      execArgv: [...(options.execArgv ?? [])],
      // Children print nothing in normal operation; let their stderr through for diagnosis.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#process.on('message', (message: ChildMessage) => {
      watchdog.bump();
      if (message.type === 'progress') {
        this.progress = message.count;
      } else if (message.type === 'error') {
        this.#fail(new Error(`${label} failed: ${message.message}`));
      } else {
        this.#deliver(message);
      }
    });
    live.add(this);
    this.#exited = new Promise((resolve) => {
      this.#process.on('exit', (code, signal) => {
        live.delete(this);
        this.#fail(new Error(`${label} exited (code ${code}, signal ${signal}) before answering`));
        resolve();
      });
    });
    this.#process.on('error', (error) => this.#fail(error));
  }

  #deliver(message: ChildMessage): void {
    const index = this.#waiters.findIndex((w) => w.type === message.type);
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter?.resolve(message);
    } else {
      this.#inbox.push(message);
    }
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
  }

  /** The next message of `type` (one already received, or the next to arrive). */
  next<T extends ChildMessage['type']>(type: T): Promise<MessageOf<T>> {
    const index = this.#inbox.findIndex((m) => m.type === type);
    if (index >= 0) {
      const [message] = this.#inbox.splice(index, 1);
      return Promise.resolve(message as MessageOf<T>);
    }
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ type, resolve: (m) => resolve(m as MessageOf<T>), reject });
    });
  }

  /** Every message of `type` received and not yet taken, in arrival order. */
  drain<T extends ChildMessage['type']>(type: T): MessageOf<T>[] {
    const taken = this.#inbox.filter((m): m is MessageOf<T> => m.type === type);
    const kept = this.#inbox.filter((m) => m.type !== type);
    this.#inbox.splice(0, this.#inbox.length, ...kept);
    return taken;
  }

  /** Waits for `ready` within CHILD_START_MS (connecting must not hang the bench). */
  ready(): Promise<MessageOf<'ready'>> {
    return withTimeout(this.next('ready'), CHILD_START_MS, `${this.label} start`);
  }

  send(message: ParentMessage): void {
    if (this.#process.connected) this.#process.send(message);
  }

  /** Asks the child to finish, and kills it if it has not exited within CHILD_STOP_MS. */
  async stop(): Promise<void> {
    if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
    this.send({ type: 'stop' });
    try {
      await withTimeout(this.#exited, CHILD_STOP_MS, `${this.label} stop`);
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      this.kill();
      await withTimeout(this.#exited, CHILD_STOP_MS, `${this.label} kill`).catch(() => undefined);
    }
  }

  kill(): void {
    if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill('SIGKILL');
  }
}
