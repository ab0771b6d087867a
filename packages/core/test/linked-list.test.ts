import { describe, expect, it } from 'vitest';
import { LinkedList, type ListLinks } from '../src/internal/linked-list.js';

interface Item extends ListLinks<Item> {
  readonly name: string;
}

function item(name: string): Item {
  return { name, prev: undefined, next: undefined, list: undefined };
}

const names = (list: LinkedList<Item>): string[] => [...list].map((i) => i.name);

describe('the in-flight list keeps its links on the items', () => {
  it('keeps insertion order and removes from the head, the middle and the tail', () => {
    const list = new LinkedList<Item>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item);
    for (const i of [a, b, c, d]) list.add(i);
    expect(names(list)).toEqual(['a', 'b', 'c', 'd']);
    expect(list.size).toBe(4);
    expect(list.delete(b)).toBe(true);
    expect(names(list)).toEqual(['a', 'c', 'd']);
    expect(list.delete(a)).toBe(true);
    expect(list.delete(d)).toBe(true);
    expect(names(list)).toEqual(['c']);
    expect(list.size).toBe(1);
    list.add(a);
    expect(names(list)).toEqual(['c', 'a']);
  });

  it('answers false for an item it does not hold, and adding an item twice keeps one entry', () => {
    const list = new LinkedList<Item>();
    const a = item('a');
    expect(list.delete(a)).toBe(false);
    list.add(a);
    list.add(a);
    expect(list.size).toBe(1);
    expect(a.list).toBe(list);
    expect(list.delete(a)).toBe(true);
    expect(list.delete(a)).toBe(false);
    expect(a.list).toBeUndefined();
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
  });

  it('refuses an item that is in another list', () => {
    const one = new LinkedList<Item>();
    const other = new LinkedList<Item>();
    const a = item('a');
    one.add(a);
    expect(() => other.add(a)).toThrow(/another list/);
    expect(other.delete(a)).toBe(false);
    expect(names(one)).toEqual(['a']);
  });

  it('lets a loop delete the item it was given (as the sweep of timed-out publishes does)', () => {
    const list = new LinkedList<Item>();
    const items = ['a', 'b', 'c', 'd', 'e'].map(item);
    for (const i of items) list.add(i);
    const seen: string[] = [];
    for (const i of list) {
      seen.push(i.name);
      if (i.name !== 'c') list.delete(i);
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(names(list)).toEqual(['c']);
    expect(list.size).toBe(1);
  });

  it('clear() empties it and frees every item for another list', () => {
    const list = new LinkedList<Item>();
    const items = ['a', 'b', 'c'].map(item);
    for (const i of items) list.add(i);
    list.clear();
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
    const other = new LinkedList<Item>();
    for (const i of items) other.add(i);
    expect(names(other)).toEqual(['a', 'b', 'c']);
    expect(items.every((i) => i.list === other)).toBe(true);
  });
});
