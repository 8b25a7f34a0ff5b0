import { describe, expect, it } from 'vitest';
import { BoundedStringCache, canonicalize, newCanonicalStats } from '../src/index.js';

const long = (fill: string, n = 5000) => fill.repeat(n);

describe('BoundedStringCache', () => {
  it('finds an equal string that is a different object, and never confuses strings sharing a sample', () => {
    const cache = new BoundedStringCache<number>(1_000_000);
    const a = `${long('a')}X${long('a')}`;
    cache.set(a, 1);
    expect(cache.get(`${long('a')}X${long('a')}`)).toBe(1); // same contents, new object
    // Same length, head, middle and tail as `a`, but one character differs in between.
    const b = `${long('a', 2000)}b${long('a', 2999)}X${long('a')}`;
    expect(b.length).toBe(a.length);
    expect(cache.get(b)).toBeUndefined();
    cache.set(b, 2);
    expect(cache.get(b)).toBe(2);
    expect(cache.get(a)).toBeUndefined(); // replaced: one entry per sample
  });

  it('stays within its size bound, evicting the oldest entries', () => {
    const cache = new BoundedStringCache<number>(30_000);
    const keys = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(10_000));
    for (const [i, k] of keys.entries()) cache.set(k, i);
    expect(keys.map((k) => cache.get(k))).toEqual([...Array(7).fill(undefined), 7, 8, 9]);
    cache.set('x'.repeat(40_000), 1); // larger than the whole cache: not kept, nothing evicted
    expect(cache.get(keys[9]!)).toBe(9);
  });
});

describe('canonicalize with a string cache', () => {
  it('produces the same text as without, and still counts lone surrogates', () => {
    const cache = new BoundedStringCache<string>(1_000_000);
    const value = { doc: long('quote " and \\ and é '), bad: `${long('x')}\ud800`, short: 'hi' };
    const plain = canonicalize(value);
    for (let i = 0; i < 3; i++) {
      const stats = newCanonicalStats();
      expect(canonicalize(structuredClone(value), { stringCache: cache, stats })).toBe(plain);
      expect(stats.loneSurrogates).toBe(1);
    }
  });
});
