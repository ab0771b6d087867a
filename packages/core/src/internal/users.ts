/**
 * Counts the users of a shared resource (a transport used by a queue and a
 * worker in one process) and closes it when the last one lets go.
 */
export class Users {
  #count = 0;
  readonly #close: () => Promise<void>;

  constructor(close: () => Promise<void>) {
    this.#close = close;
  }

  /** Registers a user; the returned function releases it (once). */
  retain(): () => Promise<void> {
    this.#count++;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.#count === 0) await this.#close();
    };
  }
}
