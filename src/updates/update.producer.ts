import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import type { Update } from 'grammy/types';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ServiceUnavailableError } from '../common/errors';
import { withTimeout } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { partitionOf, partitionQueueNames, UPDATE_JOB, UpdateJobData } from './update-queue';

export type EnqueueResult = 'accepted' | 'duplicate';

/** Makes this process's job ids unique among all processes; a counter makes them unique within it. */
const PROCESS_NONCE = randomBytes(6).toString('hex');

@Injectable()
export class UpdateProducer implements OnApplicationShutdown {
  /** One queue per partition; index = partitionOf(bot, update). */
  readonly queues: Queue<UpdateJobData>[];
  private jobCounter = 0;

  constructor(
    redis: RedisConnections,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const { completedRetentionSeconds, failedRetentionSeconds } = config.queue;
    this.queues = partitionQueueNames(config.queue.partitions).map((name) => {
      const queue = new Queue<UpdateJobData>(name, {
        connection: redis.producer,
        prefix: config.redisPrefix,
        defaultJobOptions: {
          // Retries happen inside the job (see UpdateProcessor): a BullMQ retry would let the chat's later
          // updates overtake this one.
          attempts: 1,
          removeOnComplete: { age: completedRetentionSeconds },
          removeOnFail: { age: failedRetentionSeconds },
        },
      });
      queue.on('error', () => undefined);
      return queue;
    });
    metrics.onScrape(async () => {
      const totals: Record<string, number> = { waiting: 0, active: 0, delayed: 0, failed: 0 };
      const all = await withTimeout(
        Promise.all(this.queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed'))),
        1_000,
      );
      for (const counts of all) for (const [state, count] of Object.entries(counts)) totals[state] += count;
      for (const [state, count] of Object.entries(totals)) metrics.queueDepth.set({ state }, count);
    });
  }

  /**
   * Stores the update durably, once per (bot, update_id), in the partition of its chat. The dedupe key lives for
   * DEDUPE_TTL_SECONDS (≥ 25 h, past Telegram's 24 h retry window) independently of the job, so a retry after the
   * job finished and was removed is still recognised. Redis trouble surfaces within ENQUEUE_TIMEOUT_MS as
   * ServiceUnavailableError: Telegram then keeps the update and sends it again, so nothing acknowledged is lost.
   */
  async enqueue(botId: string, update: Update): Promise<EnqueueResult> {
    const dedupeId = `${botId}-${update.update_id}`;
    // A job id of our own per attempt: BullMQ answers a deduplicated add with the existing job's id, which
    // is how a duplicate is told apart.
    const jobId = `${dedupeId}-${PROCESS_NONCE}${(this.jobCounter++).toString(36)}`;
    const queue = this.queues[partitionOf(botId, update, this.queues.length)];
    const started = process.hrtime.bigint();
    try {
      const job = await withTimeout(
        queue.add(
          UPDATE_JOB,
          { botId, update, acceptedAt: Date.now() },
          { jobId, deduplication: { id: dedupeId, ttl: this.config.queue.dedupeTtlSeconds * 1000 } },
        ),
        this.config.webhook.enqueueTimeoutMs,
      );
      this.metrics.enqueueDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return job.id === jobId ? 'accepted' : 'duplicate';
    } catch (error) {
      throw new ServiceUnavailableError(
        'The update queue is unavailable; retry later',
        'queue_unavailable',
        this.config.webhook.retryAfterSeconds,
        { cause: error },
      );
    }
  }

  async onApplicationShutdown() {
    await withTimeout(Promise.all(this.queues.map((q) => q.close())), 2_000).catch(() => undefined);
  }
}
