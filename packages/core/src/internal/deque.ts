/** A FIFO with O(1) push and shift (Array#shift is O(n) on large arrays). */
export class Deque<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** Inserts keeping higher `rank` first and FIFO among equals. */
  insertByRank(item: T, rank: (item: T) => number): void {
    const r = rank(item);
    let i = this.#items.length;
    while (i > this.#head && rank(this.#items[i - 1] as T) < r) i--;
    this.#items.splice(i, 0, item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Compact once the dead prefix dominates, keeping memory bounded under steady traffic.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes every item `remove` says yes to, keeping the others in order; returns the removed ones, in order. */
  removeWhere(remove: (item: T) => boolean): T[] {
    // Called on a timer over what may be a long backlog: nothing is allocated until an item is to go.
    let first = this.#head;
    while (first < this.#items.length && !remove(this.#items[first] as T)) first++;
    if (first === this.#items.length) return [];
    const kept = this.#items.slice(this.#head, first) as T[];
    const removed: T[] = [this.#items[first] as T];
    for (let i = first + 1; i < this.#items.length; i++) {
      const item = this.#items[i] as T;
      (remove(item) ? removed : kept).push(item);
    }
    this.#items = kept;
    this.#head = 0;
    return removed;
  }

  toArray(): T[] {
    return this.#items.slice(this.#head) as T[];
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
