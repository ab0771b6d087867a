/** Collects task outcomes (from worker events or a child's reports) so the demo can wait for its own tasks. */
export class Completions {
  readonly #completed = new Set<string>();
  readonly #dead = new Map<string, string>();
  #failure: Error | undefined;
  #check: (() => void) | undefined;

  completed(id: string): void {
    this.#completed.add(id);
    this.#check?.();
  }

  dead(id: string, reason: string): void {
    this.#dead.set(id, reason);
    this.#check?.();
  }

  /** Makes any wait reject, e.g. when the worker process exits early. */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#check?.();
  }

  /** Resolves when every id completed; rejects if one was dead-lettered, on `fail()`, or after `timeoutMs`. */
  waitFor(ids: readonly string[], timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        this.#check = undefined;
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        const missing = ids.filter((id) => !this.#completed.has(id)).length;
        finish(
          new Error(
            `${missing} task(s) did not complete within ${timeoutMs} ms (is another worker consuming the same queue?)`,
          ),
        );
      }, timeoutMs);
      this.#check = () => {
        if (this.#failure) return finish(this.#failure);
        const dead = ids.find((id) => this.#dead.has(id));
        if (dead) return finish(new Error(`task ${dead} was dead-lettered (${this.#dead.get(dead)})`));
        if (ids.every((id) => this.#completed.has(id))) finish();
      };
      this.#check();
    });
  }
}
