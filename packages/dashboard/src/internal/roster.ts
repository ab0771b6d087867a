import type { Logger, Transport, WorkerHeartbeat } from '@taskq/core';

/** How long the first read waits for the workers' answers to its ping. */
const FIRST_ANSWERS_MS = 400;

/**
 * The live workers of the transport's prefix, from the heartbeats they send: heard continuously once the dashboard
 * was first used, so a page knows them at once instead of asking and waiting for answers on every read. A worker
 * silent for two of its intervals is gone.
 */
export class WorkerRoster {
  readonly #transport: Transport;
  readonly #logger: Logger;
  readonly #beats = new Map<string, { beat: WorkerHeartbeat; seen: number }>();
  #started: Promise<void> | undefined;
  #stop: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(transport: Transport, logger: Logger) {
    this.#transport = transport;
    this.#logger = logger;
  }

  /** The workers heard from lately, oldest start first. */
  async list(): Promise<WorkerHeartbeat[]> {
    if (!this.#transport.control || this.#closed) return [];
    this.#started ??= this.#start();
    await this.#started;
    const now = Date.now();
    const live: WorkerHeartbeat[] = [];
    for (const [id, { beat, seen }] of this.#beats) {
      if (now - seen > 2 * beat.intervalMs + 500) this.#beats.delete(id);
      else live.push(beat);
    }
    return live.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  /** When the worker's latest heartbeat was heard (ms since the epoch). */
  lastHeard(id: string): number | undefined {
    return this.#beats.get(id)?.seen;
  }

  async #start(): Promise<void> {
    const control = this.#transport.control;
    if (!control) return;
    try {
      this.#stop = await control.watchHeartbeats(
        (beat) => this.#beats.set(beat.id, { beat, seen: Date.now() }),
        () => {
          // The connection was lost: listen again on the next read.
          this.#started = undefined;
          this.#stop = undefined;
        },
      );
      await control.publish({ kind: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, FIRST_ANSWERS_MS));
    } catch (error) {
      this.#started = undefined;
      this.#logger.warn('taskq dashboard: cannot hear worker heartbeats', { error });
    }
  }

  /** Stops listening. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#started?.catch(() => undefined);
    await this.#stop?.();
    this.#stop = undefined;
  }
}
