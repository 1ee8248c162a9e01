export interface RefreshingCacheOptions<V> {
  /** Most entries kept; the least recently used go first. */
  max: number;
  /** After this, an entry is served once more and refreshed in the background. */
  ttlMs: number;
  /** Most remembered misses (unknown keys), so a flood of bad tokens cannot reach the database. */
  negativeMax: number;
  negativeTtlMs: number;
  load: (key: string) => Promise<V | null>;
  onRefreshError?: (error: unknown) => void;
  /**
   * Most background refreshes of stale entries at once (default 4). With many more keys than requests per TTL,
   * nearly every hit finds its entry stale; unbounded, their refreshes would take every database connection and
   * starve the loads of keys that are not cached at all. A stale entry whose refresh had to wait is served as it
   * is and refreshed on a later hit.
   */
  maxRefreshes?: number;
}

interface Entry<V> {
  value: V;
  freshUntil: number;
}

/**
 * A bounded LRU cache in front of the registry. A known key costs no query: a stale entry is served at once and
 * refreshed in the background, and kept as it is when the refresh fails, so an outage of the database does not
 * stop bots that were already known. Concurrent misses for one key share one load.
 */
export class RefreshingCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly misses = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<V | null>>();
  private refreshes = 0;

  constructor(private readonly options: RefreshingCacheOptions<V>) {}

  async get(key: string): Promise<V | null> {
    const now = Date.now();
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      if (entry.freshUntil <= now && !this.inflight.has(key) && this.refreshes < (this.options.maxRefreshes ?? 4)) {
        this.refreshes++;
        this.load(key)
          .catch((error: unknown) => this.options.onRefreshError?.(error))
          .finally(() => this.refreshes--);
      }
      return entry.value;
    }
    const missUntil = this.misses.get(key);
    if (missUntil !== undefined && missUntil > now) return null;
    return this.inflight.get(key) ?? this.load(key);
  }

  /** Forgets a key (after a change in the registry), so the next get loads it again. */
  invalidate(key: string): void {
    this.entries.delete(key);
    this.misses.delete(key);
    // A load already under way may carry the old value: do not let it be stored.
    this.inflight.delete(key);
  }

  /** Every entry is refreshed on its next hit, still served meanwhile (after a possibly missed invalidation). */
  markAllStale(): void {
    for (const entry of this.entries.values()) entry.freshUntil = 0;
  }

  clear(): void {
    this.entries.clear();
    this.misses.clear();
    this.inflight.clear();
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
    const now = Date.now();
    if (value === null) {
      this.entries.delete(key);
      if (this.options.negativeMax > 0) {
        this.misses.delete(key);
        this.misses.set(key, now + this.options.negativeTtlMs);
        evict(this.misses, this.options.negativeMax);
      }
      return;
    }
    this.misses.delete(key);
    this.entries.delete(key);
    this.entries.set(key, { value, freshUntil: now + this.options.ttlMs });
    evict(this.entries, this.options.max);
  }
}

/** Drops the oldest entries (first in the map's order) until at most `max` are left. */
export function evict(map: Map<string, unknown>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value as string;
    map.delete(oldest);
  }
}
