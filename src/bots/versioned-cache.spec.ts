import { describe, expect, it } from 'vitest';
import { VersionedCache } from './versioned-cache';

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

async function fill(cache: VersionedCache<string>, keys: string[], releaseAll: () => Promise<void>) {
  for (const key of keys) {
    const value = cache.get(key);
    await releaseAll();
    await value;
  }
}

describe('VersionedCache', () => {
  it('loads a key once, however many ask at the same time, and then serves it without loading', async () => {
    const { load, calls, releaseAll } = controlledLoad();
    const cache = new VersionedCache<string>({ max: 10, negativeMax: 0, negativeTtlMs: 0, load });
    const asked = [cache.get('a'), cache.get('a'), cache.get('a')];
    await releaseAll();
    expect(await Promise.all(asked)).toEqual(['value of a', 'value of a', 'value of a']);
    for (let i = 0; i < 5; i++) expect(await cache.get('a')).toBe('value of a');
    expect(calls.get('a')).toBe(1);
  });

  it('loads again after invalidate, and does not store a load that was under way when invalidated', async () => {
    const { load, calls, releaseAll } = controlledLoad();
    const cache = new VersionedCache<string>({ max: 10, negativeMax: 0, negativeTtlMs: 0, load });
    const first = cache.get('a');
    cache.invalidate('a');
    await releaseAll();
    await first;
    expect(cache.size).toBe(0);
    await fill(cache, ['a'], releaseAll);
    cache.invalidate('a');
    await fill(cache, ['a'], releaseAll);
    expect(calls.get('a')).toBe(3);
  });

  it('retain drops exactly the entries refused', async () => {
    const { load, calls, releaseAll } = controlledLoad();
    const cache = new VersionedCache<string>({ max: 10, negativeMax: 0, negativeTtlMs: 0, load });
    await fill(cache, ['a', 'b', 'c'], releaseAll);
    expect(cache.retain((value) => value !== 'value of b')).toBe(1);
    expect(cache.values().sort()).toEqual(['value of a', 'value of c']);
    await fill(cache, ['a', 'b', 'c'], releaseAll);
    expect([...calls]).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 1],
    ]);
  });

  it('keeps at most max entries; an entry used since the last pass gets a second chance', async () => {
    const { load, calls, releaseAll } = controlledLoad();
    const cache = new VersionedCache<string>({ max: 3, negativeMax: 0, negativeTtlMs: 0, load });
    await fill(cache, ['a', 'b', 'c'], releaseAll);
    // d: every entry is flagged as new, so the pass clears a, b, c and takes a (the oldest).
    await fill(cache, ['d'], releaseAll);
    expect(cache.size).toBe(3);
    // b is used now; e takes the oldest unused one: c.
    await cache.get('b');
    await fill(cache, ['e'], releaseAll);
    expect(cache.size).toBe(3);
    await fill(cache, ['b', 'd', 'e'], releaseAll);
    expect(calls.get('b')).toBe(1);
    expect(calls.get('d')).toBe(1);
    expect(calls.get('e')).toBe(1);
    await fill(cache, ['a', 'c'], releaseAll);
    expect(calls.get('a')).toBe(2);
    expect(calls.get('c')).toBe(2);
  });

  it('remembers unknown keys for negativeTtlMs, at most negativeMax of them', async () => {
    const calls: string[] = [];
    const cache = new VersionedCache<string>({
      max: 10,
      negativeMax: 2,
      negativeTtlMs: 60_000,
      load: (key) => {
        calls.push(key);
        return Promise.resolve(null);
      },
    });
    for (const key of ['x', 'x', 'y', 'y']) expect(await cache.get(key)).toBeNull();
    expect(calls).toEqual(['x', 'y']);
    await cache.get('z'); // pushes x out
    await cache.get('x');
    expect(calls).toEqual(['x', 'y', 'z', 'x']);
  });
});
