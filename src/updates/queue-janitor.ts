import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { DeadLettersService } from './dead-letters.service';

/**
 * Deletes dead letters older than FAILED_JOB_RETENTION_SECONDS, on a timer, so that Redis memory returns to its
 * baseline whether traffic continues or not. Runs in worker processes; several of them sweeping is harmless.
 * (Processed updates leave nothing behind but their dedupe keys, which expire by themselves.)
 */
@Injectable()
export class QueueJanitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueJanitor.name);
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<unknown>;
  private failures = 0;

  constructor(
    private readonly deadLetters: DeadLettersService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Every half retention period, between 1 s and 1 min. */
  get intervalMs(): number {
    return Math.min(60_000, Math.max(1_000, (this.config.queue.failedRetentionSeconds * 1000) / 2));
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

  async sweep(): Promise<number> {
    try {
      const removed = await this.deadLetters.sweep();
      this.failures = 0;
      return removed;
    } catch (error) {
      // Redis away: the next tick tries again; say so once per outage, not every tick.
      if (this.failures++ === 0)
        this.logger.warn({ msg: 'Could not remove old dead letters', err: serializeError(error) });
      return 0;
    }
  }
}
