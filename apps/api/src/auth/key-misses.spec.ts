import { describe, expect, it } from '@jest/globals';
import { KeyMisses } from './key-misses.js';

describe('KeyMisses', () => {
  it('remembers a miss for its time to live, then forgets it', () => {
    const misses = new KeyMisses(10_000);
    misses.add('a', 1_000);
    expect(misses.has('a', 1_000)).toBe(true);
    expect(misses.has('a', 10_999)).toBe(true);
    expect(misses.has('a', 11_000)).toBe(false);
    expect(misses.has('b', 1_000)).toBe(false);
  });

  it('keeps at most 10,000 misses, forgetting the oldest first', () => {
    const misses = new KeyMisses(60_000);
    for (let i = 0; i <= 10_000; i++) misses.add(`k${i}`, 0);
    expect(misses.has('k0', 1)).toBe(false);
    expect(misses.has('k1', 1)).toBe(true);
    expect(misses.has('k10000', 1)).toBe(true);
  });
});
