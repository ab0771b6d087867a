import type { Logger } from '../logger.js';

/**
 * A small typed event emitter. Unlike Node's EventEmitter a throwing
 * listener is logged and never reaches the caller: an observer must not be
 * able to kill a worker.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: (event: never) => void }> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Cheap check so the hot path allocates no event object when nobody listens. */
  has(event: keyof Events): boolean {
    const set = this.#listeners.get(event);
    return set !== undefined && set.size > 0;
  }

  emit<E extends keyof Events>(event: E, payload: Parameters<Events[E]>[0]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (p: Parameters<Events[E]>[0]) => void)(payload);
      } catch (error) {
        this.#logger.error(`a "${String(event)}" listener threw`, { error });
      }
    }
  }
}
