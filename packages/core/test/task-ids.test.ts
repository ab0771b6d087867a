import { describe, expect, it, vi } from 'vitest';
import { isUuid, uuidv7, uuidv7Time } from '../src/internal/uuid.js';

/** The 48-bit milliseconds of a UUIDv7, read from its text independently of the module under test. */
function embeddedMs(id: string): number {
  return Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}

describe('task ids (UUIDv7)', () => {
  it('are lower-case version-7, variant-10 UUIDs, all different and strictly increasing in a burst', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    for (const id of ids) {
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1]).toBe(true);
  });

  it('carry the time they were made, which uuidv7Time reads back for the newest id and for older ones', () => {
    const before = Date.now();
    const older = uuidv7();
    const newest = uuidv7();
    const after = Date.now();
    for (const id of [newest, older]) {
      expect(uuidv7Time(id)).toBe(embeddedMs(id));
      expect(embeddedMs(id)).toBeGreaterThanOrEqual(before);
      // Ids made faster than 4,096 per millisecond borrow the next millisecond, so a few ms ahead at most.
      expect(embeddedMs(id)).toBeLessThanOrEqual(after + 5);
    }
    // A copy of the newest id (another string with the same text) gets the same answer.
    expect(uuidv7Time(`${newest.slice(0, 18)}${newest.slice(18)}`)).toBe(embeddedMs(newest));
  });

  it('uuidv7Time gives undefined for the empty string before any id was made', async () => {
    vi.resetModules();
    const fresh = await import('../src/internal/uuid.js');
    expect(fresh.uuidv7Time('')).toBeUndefined();
  });

  it('uuidv7Time gives undefined for anything that is not a UUIDv7', () => {
    expect(uuidv7Time('0190a6d2-7c3e-4b1a-9f00-1234567890ab')).toBeUndefined(); // version 4
    expect(uuidv7Time('not-a-uuid')).toBeUndefined();
    expect(uuidv7Time('0190A6D2-7C3E-7B1A-9F00-1234567890AB')).toBeUndefined(); // upper case: not ours
    expect(uuidv7Time('')).toBeUndefined();
  });
});
