import { createRequire } from 'node:module';
import type { Logger } from '../logger.js';
import type { ControlMessage, ControlPlane, Subscription, WorkerHeartbeat } from '../transport.js';

/** taskq's version, as heartbeats report it (src/ and dist/ sit at the same depth below package.json). */
export const TASKQ_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;

/** How often a worker reads the paused markers again, for a broadcast it missed (a reconnect, a race at start). */
export const PAUSE_RESYNC_MS = 1_500;

/**
 * A worker's side of the control plane: which of its queues are paused (read
 * at start and every {@link PAUSE_RESYNC_MS}, and from broadcasts), applied to
 * its subscription; cancel messages handed to the worker.
 */
export class WorkerControl {
  /** Its queues that are paused now; the subscription reads it at each (re)start. */
  readonly paused = new Set<string>();
  readonly #control: ControlPlane | undefined;
  readonly #queues: readonly string[];
  readonly #logger: Logger;
  readonly #onCancel: (id: string) => void;
  #subscription: Subscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  #beat: (() => WorkerHeartbeat) | undefined;
  #beatTimer: NodeJS.Timeout | undefined;

  constructor(
    control: ControlPlane | undefined,
    queues: readonly string[],
    logger: Logger,
    onCancel: (id: string) => void,
  ) {
    this.#control = control;
    this.#queues = queues;
    this.#logger = logger;
    this.#onCancel = onCancel;
  }

  /** Reads the paused state of every queue (before the first consume). */
  async load(): Promise<void> {
    if (!this.#control) return;
    for (const queue of this.#queues) if (await this.#control.isPaused(queue)) this.paused.add(queue);
  }

  /** Starts applying pause changes to the subscription, and the periodic re-read. */
  attach(subscription: Subscription): void {
    this.#subscription = subscription;
    if (!this.#control) return;
    this.#timer = setInterval(() => void this.#resync(), PAUSE_RESYNC_MS);
    this.#timer.unref();
  }

  /** Sends `beat()` now and every `intervalMs`, and whenever a watcher asks (a ping). */
  startHeartbeat(beat: () => WorkerHeartbeat, intervalMs: number): void {
    if (!this.#control) return;
    this.#beat = beat;
    this.#sendBeat();
    this.#beatTimer = setInterval(() => this.#sendBeat(), intervalMs);
    this.#beatTimer.unref();
  }

  detach(): void {
    clearInterval(this.#timer);
    clearInterval(this.#beatTimer);
    this.#beat = undefined;
    this.#subscription = undefined;
  }

  #sendBeat(): void {
    if (!this.#beat || !this.#control) return;
    this.#control
      .heartbeat(this.#beat())
      .catch((error: unknown) => this.#logger.debug('a heartbeat could not be sent', { error }));
  }

  readonly onControl = (message: ControlMessage): void => {
    if (message.kind === 'ping') this.#sendBeat();
    else if (message.kind === 'cancel') this.#onCancel(message.id);
    else if (message.kind === 'rate-hold') return;
    else if (this.#queues.includes(message.queue)) this.#apply(message.queue, message.kind === 'pause');
  };

  async #resync(): Promise<void> {
    try {
      for (const queue of this.#queues) {
        const paused = await (this.#control as ControlPlane).isPaused(queue);
        if (this.#subscription) this.#apply(queue, paused);
      }
    } catch (error) {
      this.#logger.debug('reading the paused queues failed; trying again later', { error });
    }
  }

  #apply(queue: string, paused: boolean): void {
    if (this.paused.has(queue) === paused) return;
    const subscription = this.#subscription;
    if (paused) {
      this.paused.add(queue);
      this.#logger.info('queue paused: no new task from it starts', { queue });
      void subscription?.pause?.(queue);
    } else {
      this.paused.delete(queue);
      this.#logger.info('queue resumed', { queue });
      void subscription?.resume?.(queue);
    }
  }
}
