import { Inject, Injectable, Logger } from '@nestjs/common';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { QuotaExceededError } from '../common/errors';
import { RedisConnections } from '../infra/redis/redis.module';

/**
 * Admin API requests per minute and key, counted in Redis (rate-limiter-flexible's atomic script), so the limit
 * holds across every API process. While Redis cannot answer, requests are let through: the admin API is for
 * operators and tenants acting by hand, and refusing all of it during a Redis outage would help no one.
 */
@Injectable()
export class AdminRateLimiter {
  private readonly logger = new Logger(AdminRateLimiter.name);
  private readonly limiters = new Map<number, RateLimiterRedis>();
  private readonly keyPrefix: string;
  private warnedAt = 0;

  constructor(
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.keyPrefix = `${config.redisPrefix}:rl`;
  }

  /** Counts one request of `actor`; throws QuotaExceededError (429, Retry-After) past `perMinute` (0: no limit). */
  async consume(actor: string, perMinute: number): Promise<void> {
    if (perMinute <= 0) return;
    try {
      await this.limiter(perMinute).consume(actor);
    } catch (result) {
      if (result instanceof RateLimiterRes) {
        throw new QuotaExceededError(
          `More than ${perMinute} admin API requests in a minute with this key; retry later`,
          'rate_limited',
          Math.max(1, Math.ceil(result.msBeforeNext / 1000)),
        );
      }
      if (Date.now() - this.warnedAt > 60_000) {
        this.warnedAt = Date.now();
        this.logger.warn('Cannot count admin API requests in Redis; letting them through meanwhile');
      }
    }
  }

  private limiter(points: number): RateLimiterRedis {
    let limiter = this.limiters.get(points);
    if (!limiter) {
      // One limiter per rate, all on the same keys: a key whose quota changes keeps its count.
      limiter = new RateLimiterRedis({
        storeClient: this.redis.general,
        keyPrefix: this.keyPrefix,
        points,
        duration: 60,
        rejectIfRedisNotReady: true,
      });
      this.limiters.set(points, limiter);
    }
    return limiter;
  }
}
