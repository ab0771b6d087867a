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
  /** Questions about a worker not heard yet, answered by its first heartbeat or when the ping has settled. */
  readonly #waiting = new Map<string, Array<() => void>>();
  readonly #ready: Promise<void>;
  #stop: (() => Promise<void>) | undefined;
  #ended = false;

  constructor(control: ControlPlane, onEnd: () => void) {
    this.#ready = (async () => {
      this.#stop = await control.watchHeartbeats(
        (beat) => {
          this.#seen.set(beat.id, { at: Date.now(), intervalMs: beat.intervalMs });
          this.#wake(beat.id);
        },
        () => {
          // A watcher that lost its channel hears nothing: it must not call every worker gone.
          this.#ended = true;
          onEnd();
        },
      );
      await control.publish({ kind: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    })();
    // Once settled, nobody waits for a worker that did not answer: it is gone.
    this.#ready.then(
      () => this.#wakeAll(),
      () => this.#wakeAll(),
    );
  }

  /**
   * Whether the worker is live; undefined when this registry cannot tell (it stopped listening). A live worker
   * answers the first question as soon as its answer to the ping arrives; only a silent one waits for the ping to
   * settle.
   */
  async isLive(id: string): Promise<boolean | undefined> {
    if (!this.#seen.has(id)) await Promise.race([this.#ready, this.#heard(id)]);
    if (this.#ended) return undefined;
    const seen = this.#seen.get(id);
    return seen !== undefined && Date.now() - seen.at <= 2 * seen.intervalMs;
  }

  #heard(id: string): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.#waiting.get(id);
      if (waiting) waiting.push(resolve);
      else this.#waiting.set(id, [resolve]);
    });
  }

  #wake(id: string): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    for (const resolve of waiting) resolve();
  }

  #wakeAll(): void {
    for (const id of [...this.#waiting.keys()]) this.#wake(id);
  }

  async close(): Promise<void> {
    this.#ended = true;
    await this.#ready.catch(() => {});
    await this.#stop?.();
  }
}
