import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Redis, RedisOptions } from 'ioredis';
import { AppConfig } from '../../config/config';
import { APP_CONFIG } from '../../config/config.module';
import { withTimeout } from '../database/prisma.service';
import { coalesceWrites } from './coalesce-writes';
import { assertNoEviction, EvictionPolicyError } from './eviction-policy';

/**
 * The Redis connections of a process, by role:
 * - `producer`: enqueueing from the webhook; no offline queue, so a command fails at once while Redis is away
 *   and the webhook answers 503 instead of hanging;
 * - `general`: sessions and health checks; a bounded number of retries per command;
 * - worker connections: `forCommands` for the mailbox scripts (fail fast, so a worker knows when it is cut off),
 *   `forWorker` for blocking waits (never give up).
 * Every connection reconnects forever with a capped backoff, so the process recovers by itself.
 */
@Injectable()
export class RedisConnections implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RedisConnections.name);
  readonly producer: Redis;
  readonly general: Redis;
  private readonly owned: Redis[] = [];

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // The webhook's accepts: one turn's calls leave in one write.
    this.producer = coalesceWrites(this.create('producer', { enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
    // Sessions: a worker reads and writes many per event-loop turn.
    this.general = coalesceWrites(this.create('general', { maxRetriesPerRequest: 2 }));
  }

  /**
   * Refuses to run on a Redis that may evict keys (queued updates, dedupe keys): the start fails with a clear
   * message. When Redis is not reachable yet, the check runs as soon as it is, and stops the process then.
   */
  async onApplicationBootstrap() {
    if (this.config.redisAllowEviction) return;
    try {
      await withTimeout(assertNoEviction(this.general), 2_000);
    } catch (error) {
      if (error instanceof EvictionPolicyError) throw error;
      this.general.once('ready', () => {
        assertNoEviction(this.general).catch((late: unknown) => {
          if (!(late instanceof EvictionPolicyError)) return;
          this.logger.fatal(late.message);
          process.exit(1);
        });
      });
    }
  }

  /** A connection for blocking commands (BLPOP): a command never gives up on Redis. */
  forWorker(name: string): Redis {
    return this.create(name, { maxRetriesPerRequest: null });
  }

  /**
   * A connection for a worker's mailbox commands, writes coalesced: a command fails within a second or two while
   * Redis is away, so the worker can tell how long it has been cut off (see ConversationWorker).
   */
  forCommands(name: string): Redis {
    return coalesceWrites(this.create(name, { maxRetriesPerRequest: 1 }));
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

  async onApplicationShutdown() {
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
