import { describe, expect, it } from 'vitest';
import { Deque } from '../src/internal/deque.js';

// The publisher keeps the messages it could not write yet (no channel, flow control) in this deque: a broker outage
// can leave hundreds of thousands there, taken from the front one by one once the connection is back.
describe('the deque of publishes waiting to be written', () => {
  it('gives items back first in, first out, and peek() leaves the first in place', () => {
    const deque = new Deque<number>();
    expect(deque.peek()).toBeUndefined();
    for (let i = 0; i < 5; i++) deque.push(i);
    expect(deque.peek()).toBe(0);
    expect(deque.peek()).toBe(0);
    expect(deque.shift()).toBe(0);
    expect(deque.peek()).toBe(1);
    deque.unshift(0);
    expect(deque.toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(deque.length).toBe(5);
  });

  it('keeps its order across the compaction of a long drained front', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 5_000; i++) deque.push(i);
    for (let i = 0; i < 3_000; i++) expect(deque.shift()).toBe(i);
    for (let i = 5_000; i < 5_010; i++) deque.push(i);
    expect(deque.length).toBe(2_010);
    expect(deque.peek()).toBe(3_000);
    const rest: number[] = [];
    for (let item = deque.shift(); item !== undefined; item = deque.shift()) rest.push(item);
    expect(rest).toEqual(Array.from({ length: 2_010 }, (_, i) => 3_000 + i));
    expect(deque.peek()).toBeUndefined();
  });

  it('removeWhere() takes out what it is told (as the sweep of timed-out publishes does), both sides in order', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 10; i++) deque.push(i);
    deque.shift();
    deque.shift();
    const removed = deque.removeWhere((n) => n % 3 === 0);
    expect(removed).toEqual([3, 6, 9]);
    expect(deque.toArray()).toEqual([2, 4, 5, 7, 8]);
    expect(deque.length).toBe(5);
    expect(deque.shift()).toBe(2);
    deque.unshift(1);
    expect(deque.toArray()).toEqual([1, 4, 5, 7, 8]);
    expect(deque.removeWhere(() => false)).toEqual([]);
    expect(deque.removeWhere(() => true)).toEqual([1, 4, 5, 7, 8]);
    expect(deque.length).toBe(0);
    expect(deque.shift()).toBeUndefined();
  });
});
