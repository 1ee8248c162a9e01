import { Global, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import { Redis, RedisOptions } from 'ioredis';
import { AppConfig } from '../../config/config';
import { APP_CONFIG } from '../../config/config.module';
import { withTimeout } from '../database/prisma.service';

/**
 * The Redis connections of a process, by role:
 * - `producer`: enqueueing from the webhook; no offline queue, so a command fails at once while Redis is away
 *   and the webhook answers 503 instead of hanging;
 * - `general`: sessions and health checks; a bounded number of retries per command;
 * - worker connections are made per BullMQ Worker with `maxRetriesPerRequest: null` (BullMQ's requirement:
 *   a worker never gives up on Redis).
 * Every connection reconnects forever with a capped backoff, so the process recovers by itself.
 */
@Injectable()
export class RedisConnections implements OnModuleDestroy {
  readonly producer: Redis;
  readonly general: Redis;
  private readonly owned: Redis[] = [];

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.producer = this.create('producer', { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.general = this.create('general', { maxRetriesPerRequest: 2 });
  }

  /** A connection for a BullMQ Worker (blocking commands, never gives up). */
  forWorker(name: string): Redis {
    return this.create(name, { maxRetriesPerRequest: null });
  }

  /** A connection for SUBSCRIBE (it can run no other command); ioredis re-subscribes after a reconnect. */
  forSubscriber(name: string): Redis {
    return this.create(name, { maxRetriesPerRequest: null });
  }

  async ping(timeoutMs = 1_000): Promise<boolean> {
    try {
      return (await withTimeout(this.general.ping(), timeoutMs)) === 'PONG';
    } catch {
      return false;
    }
  }

  async onModuleDestroy() {
    // QUIT waits for an answer; a Redis that hangs would hold shutdown forever.
    await Promise.all(
      this.owned.map((c) =>
        withTimeout(c.quit(), 1_000)
          .catch(() => undefined)
          .finally(() => c.disconnect()),
      ),
    );
  }

  private create(name: string, options: RedisOptions): Redis {
    const connection = new Redis(this.config.redisUrl, {
      connectionName: `tg-gateway:${name}`,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      ...options,
    });
    // ioredis emits 'error' on every failed reconnect; without a listener Node treats it as fatal.
    connection.on('error', () => undefined);
    this.owned.push(connection);
    return connection;
  }
}

@Global()
@Module({ providers: [RedisConnections], exports: [RedisConnections] })
export class RedisModule {}
