import { describe, expect, it } from 'vitest';
import { RefreshingCache } from './refreshing-cache';

/** A load that stays pending until released, counting calls per key. */
function controlledLoad() {
  const pending: (() => void)[] = [];
  const calls = new Map<string, number>();
  const load = (key: string) => {
    calls.set(key, (calls.get(key) ?? 0) + 1);
    return new Promise<string | null>((resolve) => pending.push(() => resolve(`value of ${key}`)));
  };
  const releaseAll = async () => {
    for (const release of pending.splice(0)) release();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { load, calls, releaseAll, pending };
}

describe('RefreshingCache', () => {
  it('serves a stale entry at once and refreshes it in the background', async () => {
    const { load, calls, releaseAll } = controlledLoad();
    const cache = new RefreshingCache<string>({ max: 10, ttlMs: 0, negativeMax: 0, negativeTtlMs: 0, load });
    const first = cache.get('a');
    await releaseAll();
    expect(await first).toBe('value of a');
    expect(await cache.get('a')).toBe('value of a');
    expect(calls.get('a')).toBe(2);
  });

  it('runs at most maxRefreshes background refreshes at once; the others are served stale without a load', async () => {
    const { load, calls, releaseAll, pending } = controlledLoad();
    const cache = new RefreshingCache<string>({
      max: 100,
      ttlMs: 0,
      negativeMax: 0,
      negativeTtlMs: 0,
      load,
      maxRefreshes: 3,
    });
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const loaded = keys.map((key) => cache.get(key));
    await releaseAll();
    await Promise.all(loaded);

    // Every entry is stale now (TTL 0): only three refreshes start, every hit is still answered.
    const values = await Promise.all(keys.map((key) => cache.get(key)));
    expect(values).toEqual(keys.map((key) => `value of ${key}`));
    expect(pending).toHaveLength(3);
    await releaseAll();
    // Once they finished, the next hits may refresh again.
    await Promise.all(keys.map((key) => cache.get(key)));
    expect(pending).toHaveLength(3);
    expect([...calls.values()].reduce((a, b) => a + b, 0)).toBe(20 + 3 + 3);
  });

  it('keeps at most max entries, dropping the least recently used', async () => {
    const { load, releaseAll } = controlledLoad();
    const cache = new RefreshingCache<string>({ max: 2, ttlMs: 60_000, negativeMax: 0, negativeTtlMs: 0, load });
    for (const key of ['a', 'b']) {
      const value = cache.get(key);
      await releaseAll();
      await value;
    }
    await cache.get('a');
    const c = cache.get('c');
    await releaseAll();
    await c;
    expect(cache.size).toBe(2);
    const b = cache.get('b'); // evicted: loads again
    await releaseAll();
    expect(await b).toBe('value of b');
  });
});
