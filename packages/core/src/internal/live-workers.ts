import type { ControlPlane } from '../transport.js';

/** How long a new registry listens for the answers to its ping before it answers. */
const SETTLE_MS = 1_000;

/**
 * @internal The workers a queue has heard from, kept current from their
 * heartbeats; a worker silent for two of its intervals is gone. Made on the
 * first question (it pings, so it knows everyone after one round trip).
 */
export class LiveWorkers {
  readonly #seen = new Map<string, { at: number; intervalMs: number }>();
  readonly #ready: Promise<void>;
  #stop: (() => Promise<void>) | undefined;
  #ended = false;

  constructor(control: ControlPlane, onEnd: () => void) {
    this.#ready = (async () => {
      this.#stop = await control.watchHeartbeats(
        (beat) => this.#seen.set(beat.id, { at: Date.now(), intervalMs: beat.intervalMs }),
        () => {
          // A watcher that lost its channel hears nothing: it must not call every worker gone.
          this.#ended = true;
          onEnd();
        },
      );
      await control.publish({ kind: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    })();
  }

  /** Whether the worker is live; undefined when this registry cannot tell (it stopped listening). */
  async isLive(id: string): Promise<boolean | undefined> {
    await this.#ready;
    if (this.#ended) return undefined;
    const seen = this.#seen.get(id);
    return seen !== undefined && Date.now() - seen.at <= 2 * seen.intervalMs;
  }

  async close(): Promise<void> {
    this.#ended = true;
    await this.#ready.catch(() => {});
    await this.#stop?.();
  }
}
