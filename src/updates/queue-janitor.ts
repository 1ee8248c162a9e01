import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { RedisConnections } from '../infra/redis/redis.module';
import { REMOVE_FINISHED_BEFORE } from './job-removal';
import { UpdateProducer } from './update.producer';

/** Jobs removed per script call: small enough not to block Redis for long. */
const CLEAN_BATCH = 1_000;

/**
 * Removes finished jobs once they are older than their retention. BullMQ removes old finished jobs only when
 * another job finishes in the same queue, so after a burst a quiet partition would keep its last hour of
 * completed jobs forever; this sweeps every partition on a timer instead, so that Redis memory returns to its
 * baseline whether traffic continues or not. Runs in worker processes; several of them sweeping is harmless.
 */
@Injectable()
export class QueueJanitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueJanitor.name);
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<unknown>;
  private failures = 0;

  constructor(
    private readonly producer: UpdateProducer,
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Every half retention period, between 1 s and 1 min. */
  get intervalMs(): number {
    const { completedRetentionSeconds, failedRetentionSeconds } = this.config.queue;
    const shortest = Math.min(completedRetentionSeconds, failedRetentionSeconds) * 1000;
    return Math.min(60_000, Math.max(1_000, shortest / 2));
  }

  onApplicationBootstrap() {
    this.timer = setInterval(() => {
      this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown() {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** One pass over every partition; returns how many jobs it removed. */
  async sweep(): Promise<number> {
    const { completedRetentionSeconds, failedRetentionSeconds } = this.config.queue;
    let removed = 0;
    try {
      for (const queue of this.producer.queues) {
        for (const [state, graceMs] of [
          ['completed', completedRetentionSeconds * 1000],
          ['failed', failedRetentionSeconds * 1000],
        ] as const) {
          const jobPrefix = `${this.config.redisPrefix}:${queue.name}:`;
          for (;;) {
            const count = Number(
              await this.redis.general.eval(
                REMOVE_FINISHED_BEFORE,
                1,
                `${jobPrefix}${state}`,
                jobPrefix,
                graceMs,
                CLEAN_BATCH,
              ),
            );
            removed += count;
            if (count < CLEAN_BATCH) break;
          }
        }
      }
      this.failures = 0;
    } catch (error) {
      // Redis away: the next tick tries again; say so once per outage, not every tick.
      if (this.failures++ === 0) this.logger.warn({ msg: 'Could not remove old jobs', err: serializeError(error) });
    }
    return removed;
  }
}
