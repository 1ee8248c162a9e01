export interface VersionedCacheOptions<V> {
  /** Most entries kept; entries not used since the last eviction pass go first. */
  max: number;
  /** Most remembered misses (unknown keys), so a flood of bad tokens cannot reach the database. */
  negativeMax: number;
  negativeTtlMs: number;
  load: (key: string) => Promise<V | null>;
}

interface Entry<V> {
  value: V;
  /** Set on every hit, cleared by the eviction pass ("second chance"). */
  used: boolean;
}

/**
 * A bounded cache in front of the registry. A known key costs no query and no write: entries do not expire by
 * age; they are dropped when the registry says they changed (`invalidate`, after a change notification, or
 * `retain`, after a periodic check of their versions — see BotRegistryService). Concurrent misses for one key
 * share one load.
 *
 * Eviction is CLOCK (second chance), an approximation of LRU that needs no reordering on a hit: a hit only sets
 * a flag, so with 100,000 bots a hit costs the same as with 10. When the cache is full, the oldest entries that
 * were used since the last pass move to the back with the flag cleared; the first one that was not used goes.
 */
export class VersionedCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly misses = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<V | null>>();

  constructor(private readonly options: VersionedCacheOptions<V>) {}

  get(key: string): Promise<V | null> {
    const entry = this.entries.get(key);
    if (entry) {
      entry.used = true;
      return Promise.resolve(entry.value);
    }
    const missUntil = this.misses.get(key);
    if (missUntil !== undefined && missUntil > Date.now()) return Promise.resolve(null);
    return this.inflight.get(key) ?? this.load(key);
  }

  /** Forgets a key (after a change in the registry), so the next get loads it again. */
  invalidate(key: string): void {
    this.entries.delete(key);
    this.misses.delete(key);
    // A load already under way may carry the old value: do not let it be stored.
    this.inflight.delete(key);
  }

  /** Drops every entry whose value `keep` refuses; returns how many went. */
  retain(keep: (value: V) => boolean): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (keep(entry.value)) continue;
      this.entries.delete(key);
      dropped++;
    }
    return dropped;
  }

  values(): V[] {
    return Array.from(this.entries.values(), (entry) => entry.value);
  }

  get size(): number {
    return this.entries.size;
  }

  private load(key: string): Promise<V | null> {
    const promise = this.options
      .load(key)
      .then((value) => {
        if (this.inflight.get(key) === promise) this.store(key, value);
        return value;
      })
      .finally(() => {
        if (this.inflight.get(key) === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, promise);
    return promise;
  }

  private store(key: string, value: V | null): void {
    if (value === null) {
      this.entries.delete(key);
      if (this.options.negativeMax > 0) {
        this.misses.delete(key);
        this.misses.set(key, Date.now() + this.options.negativeTtlMs);
        evict(this.misses, this.options.negativeMax);
      }
      return;
    }
    this.misses.delete(key);
    this.entries.delete(key);
    // Counted as used: a pass must not take the entry it was just made room for.
    this.entries.set(key, { value, used: true });
    this.evictUnused();
  }

  private evictUnused(): void {
    // Each pass clears a flag or removes an entry, so this ends within two rounds of the map.
    while (this.entries.size > this.options.max) {
      const [key, entry] = this.entries.entries().next().value as [string, Entry<V>];
      this.entries.delete(key);
      if (!entry.used) continue;
      entry.used = false;
      this.entries.set(key, entry);
    }
  }
}

/** Drops the oldest entries (first in the map's order) until at most `max` are left. */
export function evict(map: Map<string, unknown>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}
