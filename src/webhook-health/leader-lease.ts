import type { Redis } from 'ioredis';

/** Takes the lease when it is free, renews it when it is ours: 1 when we hold it afterwards. */
const ACQUIRE_OR_RENEW = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * A lease in Redis that one process at a time holds (a leader key with an expiry). The holder renews it well
 * before it expires; a process that stops renewing (crash, cut off from Redis) loses it when it expires, and its
 * own view of the lease ends earlier than Redis' (measured from when the renewal was sent), so two holders never
 * act at once.
 */
export class LeaderLease {
  private heldUntil = 0;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** Whether this process holds the lease now (by its own, conservative, clock). */
  get held(): boolean {
    return Date.now() < this.heldUntil;
  }

  /** Takes or renews the lease; false when another process holds it. Throws when Redis cannot be reached. */
  async acquireOrRenew(): Promise<boolean> {
    const sentAt = Date.now();
    const ok = (await this.redis.eval(ACQUIRE_OR_RENEW, 1, this.key, this.owner, this.ttlMs)) === 1;
    // Less a margin for clock drift between this process and Redis.
    this.heldUntil = ok ? sentAt + this.ttlMs - Math.min(1_000, this.ttlMs / 10) : 0;
    return ok;
  }

  /** Gives the lease up at once (shutdown), so another process takes over without waiting for the expiry. */
  async release(): Promise<void> {
    this.heldUntil = 0;
    await this.redis.eval(RELEASE, 1, this.key, this.owner);
  }
}
