import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError, Worker } from 'bullmq';
import { Bot, Composer } from 'grammy';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BotRegistryService } from '../bots/bot-registry.service';
import { serializeError } from '../common/logger';
import { GatewayContext } from '../handlers/context';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { createDispatcher } from './dispatcher';
import { classifyFailure } from './telegram-errors';
import { UPDATES_QUEUE, UpdateJobData, updateKind } from './update-queue';

/** Consumes the update queue and runs each update through the shared dispatcher. */
@Injectable()
export class UpdateProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UpdateProcessor.name);
  private readonly dispatcher: Composer<GatewayContext>;
  private worker?: Worker<UpdateJobData>;

  constructor(
    private readonly registry: BotRegistryService,
    private readonly redis: RedisConnections,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.dispatcher = createDispatcher({
      redis: redis.general,
      redisPrefix: config.redisPrefix,
      sessionTtlSeconds: config.sessionTtlSeconds,
    });
  }

  onApplicationBootstrap() {
    this.worker = new Worker<UpdateJobData>(UPDATES_QUEUE, (job, token) => this.process(job, token), {
      connection: this.redis.forWorker('worker'),
      prefix: this.config.redisPrefix,
      concurrency: this.config.worker.concurrency,
    });
    this.worker.on('failed', (job, error) => {
      if (!job || error instanceof DelayedError) return;
      const final = error instanceof UnrecoverableError || job.attemptsMade >= (job.opts.attempts ?? 1);
      this.logger.warn({
        msg: final ? 'Update failed for good; kept in the failed set' : 'Update failed; will retry',
        jobId: job.id,
        botId: job.data.botId,
        updateId: job.data.update.update_id,
        attempt: job.attemptsMade,
        reason: error.message,
      });
    });
    this.worker.on('error', (error) => this.logger.error({ msg: 'Worker error', err: serializeError(error) }));
  }

  async onApplicationShutdown() {
    // Waits for the jobs in progress; BullMQ hands back any job whose lock is lost (stalled) to another worker.
    await this.worker?.close();
  }

  async process(job: Job<UpdateJobData>, token?: string): Promise<void> {
    const { botId, update } = job.data;
    const bot = await this.registry.findForWorker(botId);
    if (!bot) {
      this.metrics.updatesFailed.inc({ kind: 'bot_missing' });
      throw new UnrecoverableError('The bot is no longer registered');
    }
    const grammyBot = new Bot<GatewayContext>(bot.token, {
      botInfo: bot.botInfo,
      client: { apiRoot: this.config.telegramApiRoot },
    });
    grammyBot.use(this.dispatcher);
    try {
      await grammyBot.handleUpdate(update);
    } catch (error) {
      const failure = classifyFailure(error);
      this.metrics.updatesFailed.inc({ kind: failure.kind });
      switch (failure.kind) {
        case 'permanent':
          throw new UnrecoverableError(failure.reason);
        case 'rate_limited':
          // Telegram said when to come back: wait that long without spending an attempt.
          await job.moveToDelayed(Date.now() + failure.retryAfterMs, token);
          throw new DelayedError(failure.reason);
        case 'transient':
          throw new Error(failure.reason);
      }
    }
    this.metrics.updatesProcessed.inc({ kind: updateKind(update) });
  }
}
