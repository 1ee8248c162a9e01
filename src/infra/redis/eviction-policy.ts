import type { Redis } from 'ioredis';

export class EvictionPolicyError extends Error {
  constructor(readonly policy: string) {
    super(
      `Redis maxmemory-policy is "${policy}": Redis may evict queued updates and dedupe keys under memory pressure. ` +
        'Set maxmemory-policy to noeviction (redis-server --maxmemory-policy noeviction, or CONFIG SET), or set ' +
        'REDIS_ALLOW_EVICTION=true to run anyway.',
    );
    this.name = 'EvictionPolicyError';
  }
}

/**
 * The eviction policy of the Redis behind `redis`. CONFIG may be disabled (managed Redis), so INFO is read
 * instead when it fails.
 */
export async function readEvictionPolicy(redis: Redis): Promise<string> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy) return policy;
  } catch {
    // CONFIG refused: fall through to INFO.
  }
  const info = await redis.info('memory');
  return /maxmemory_policy:(\S+)/.exec(info)?.[1] ?? 'unknown';
}

/** Throws EvictionPolicyError unless Redis keeps every key (`noeviction`). */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const policy = await readEvictionPolicy(redis);
  if (policy !== 'noeviction') throw new EvictionPolicyError(policy);
}
