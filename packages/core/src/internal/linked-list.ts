/** The links an item of a {@link LinkedList} carries itself; an item is in at most one list at a time. */
export interface ListLinks<T> {
  prev: T | undefined;
  next: T | undefined;
  /** The list the item is in now, or undefined. */
  list: object | undefined;
}

/**
 * A set of items in insertion order whose links live on the items themselves: adding and removing allocate nothing.
 * For the hot sets that hold every message in flight (a publish until its confirm). A `Set` there gives the garbage
 * collector work out of proportion: measured on a producer with 1,000 publishes in flight, the records passing
 * through it made V8 promote six to ten times the bytes to the old generation (likely because its hash table is
 * reallocated as it fills with deleted entries and shrinks; see bench/README.md, "The publisher's in-flight set").
 */
export class LinkedList<T extends ListLinks<T>> {
  #head: T | undefined;
  #tail: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends `item`; an item already in this list stays where it is. It must not be in another list. */
  add(item: T): void {
    if (item.list === this) return;
    if (item.list !== undefined) throw new Error('the item is in another list');
    item.list = this;
    item.prev = this.#tail;
    item.next = undefined;
    if (this.#tail) this.#tail.next = item;
    else this.#head = item;
    this.#tail = item;
    this.#size++;
  }

  /** Removes `item`; false when it was not in this list. */
  delete(item: T): boolean {
    if (item.list !== this) return false;
    const { prev, next } = item;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    item.prev = undefined;
    item.next = undefined;
    item.list = undefined;
    this.#size--;
    return true;
  }

  /** Removes every item. */
  clear(): void {
    let item = this.#head;
    while (item) {
      const next = item.next;
      item.prev = undefined;
      item.next = undefined;
      item.list = undefined;
      item = next;
    }
    this.#head = undefined;
    this.#tail = undefined;
    this.#size = 0;
  }

  /** The items in insertion order. The loop may delete the item it was just given. */
  *[Symbol.iterator](): IterableIterator<T> {
    let item = this.#head;
    while (item) {
      const next: T | undefined = item.next;
      yield item;
      // Still in the list: its successor now (items added meanwhile count); deleted: the one it had.
      item = item.list === this ? item.next : next;
    }
  }
}
