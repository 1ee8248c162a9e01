import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { RedisConnections } from '../infra/redis/redis.module';
import { withTimeout } from '../infra/database/prisma.service';

/** A bot changed in the registry: caches drop it by id and by the blind indexes it had or has. */
export interface BotChange {
  botId: string;
  tokenHashes: string[];
}

/**
 * Tells every gateway process (API, workers, a CLI run) that a bot changed, over Redis pub/sub, so a disable,
 * a delete, a new token or a new secret takes effect everywhere at once. A process that may have missed messages
 * (its subscription was down) is told when it is back, and then checks its whole cache against the registry, as it
 * does every BOT_CACHE_TTL_MS anyway.
 */
@Injectable()
export class BotChangeBus implements OnModuleInit {
  private readonly logger = new Logger(BotChangeBus.name);
  private readonly channel: string;
  private readonly listeners: ((change: BotChange) => void)[] = [];
  private readonly resyncListeners: (() => void)[] = [];
  private subscriber?: Redis;

  constructor(
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.channel = `${config.redisPrefix}:bot-changes`;
  }

  onModuleInit() {
    this.subscriber = this.redis.forSubscriber('bot-changes');
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      try {
        const change = JSON.parse(message) as BotChange;
        for (const listener of this.listeners) listener(change);
      } catch {
        this.logger.warn('Ignored a malformed bot change message');
      }
    });
    // ioredis subscribes again after a reconnect; whatever was published meanwhile is lost.
    let lost = false;
    this.subscriber.on('close', () => (lost = true));
    this.subscriber.on('ready', () => {
      if (!lost) return;
      lost = false;
      this.logger.log('Subscription to bot changes restored; refreshing the bot caches');
      for (const listener of this.resyncListeners) listener();
    });
    this.subscriber.subscribe(this.channel).catch((error: unknown) => {
      this.logger.warn({ msg: 'Cannot subscribe to bot changes yet; will retry on reconnect', err: String(error) });
    });
  }

  onChange(listener: (change: BotChange) => void): void {
    this.listeners.push(listener);
  }

  /** Called when changes may have been missed (the subscription was down and is back). */
  onResync(listener: () => void): void {
    this.resyncListeners.push(listener);
  }

  /** Tells every process, this one included. Never fails the operation that made the change. */
  async publish(change: BotChange): Promise<void> {
    for (const listener of this.listeners) listener(change);
    try {
      await withTimeout(this.redis.general.publish(this.channel, JSON.stringify(change)), 1_000);
    } catch {
      this.logger.warn(
        'Could not announce a bot change over Redis; other processes will see it when their cache entry expires',
      );
    }
  }
}
