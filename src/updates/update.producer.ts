import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Job, JobsOptions, Queue } from 'bullmq';
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

/** Approximate length BullMQ trims each partition's events stream to. */
const EVENTS_MAX_LEN = 1_000;

/** Most adds sent to Redis in one pipeline. */
const MAX_BATCH = 256;

interface PendingAdd {
  queue: Queue<UpdateJobData>;
  job: Job<UpdateJobData>;
  resolve: (id: string) => void;
  reject: (error: unknown) => void;
}

@Injectable()
export class UpdateProducer implements OnApplicationShutdown {
  /** One queue per partition; index = partitionOf(bot, update). */
  readonly queues: Queue<UpdateJobData>[];
  private readonly jobOptions: JobsOptions[];
  private jobCounter = 0;
  private batch: PendingAdd[] = [];

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
        // Nothing reads the events stream (no QueueEvents); BullMQ's default keeps 10,000 entries per queue.
        streams: { events: { maxLen: EVENTS_MAX_LEN } },
        defaultJobOptions: {
          // Retries happen inside the job (see UpdateProcessor): a BullMQ retry would let the chat's later
          // updates overtake this one.
          attempts: 1,
          // 0: removed as soon as it finishes (no completed set to maintain); the dedupe key stays for its TTL.
          removeOnComplete: completedRetentionSeconds === 0 ? true : { age: completedRetentionSeconds },
          removeOnFail: failedRetentionSeconds === 0 ? true : { age: failedRetentionSeconds },
        },
      });
      queue.on('error', () => undefined);
      return queue;
    });
    this.jobOptions = this.queues.map((queue) => queue.defaultJobOptions);
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
    const partition = partitionOf(botId, update, this.queues.length);
    const queue = this.queues[partition];
    const started = process.hrtime.bigint();
    try {
      const job = new Job<UpdateJobData>(
        queue,
        UPDATE_JOB,
        { botId, update, acceptedAt: Date.now() },
        {
          ...this.jobOptions[partition],
          jobId,
          deduplication: { id: dedupeId, ttl: this.config.queue.dedupeTtlSeconds * 1000 },
        },
        jobId,
      );
      const id = await withTimeout(this.add(queue, job), this.config.webhook.enqueueTimeoutMs);
      this.metrics.enqueueDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return id === jobId ? 'accepted' : 'duplicate';
    } catch (error) {
      throw new ServiceUnavailableError(
        'The update queue is unavailable; retry later',
        'queue_unavailable',
        this.config.webhook.retryAfterSeconds,
        { cause: error },
      );
    }
  }

  /**
   * What `queue.add` does, but batched: the adds requested during one turn of the event loop go to Redis in one
   * pipeline (one write, one read) instead of one round trip each. Each add is still its own BullMQ script call,
   * answered on its own: a pipeline is not a transaction, so one failing add fails only its own request.
   */
  private add(queue: Queue<UpdateJobData>, job: Job<UpdateJobData>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.batch.push({ queue, job, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flush());
      else if (this.batch.length >= MAX_BATCH) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    try {
      // Every partition queue shares the producer connection, and so its loaded scripts.
      const pipeline = (await batch[0].queue.backend.client).pipeline();
      for (const { queue, job } of batch) {
        // Queues the script call on the pipeline synchronously (as BullMQ's own addBulk relies on); its answer comes
        // from exec() below.
        queue.backend.addJobToTransaction(pipeline, job.asJSON(), job.id!).catch(() => undefined);
      }
      const results: [Error | null, unknown][] = (await pipeline.exec()) ?? [];
      batch.forEach(({ resolve, reject }, i) => {
        const [error, id] = results[i] ?? [new Error('No reply from Redis for this add'), null];
        if (error) reject(error);
        else if (typeof id === 'string') resolve(id);
        else reject(new Error(`BullMQ refused the job (code ${String(id)})`));
      });
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  }

  async onApplicationShutdown() {
    await withTimeout(Promise.all(this.queues.map((q) => q.close())), 2_000).catch(() => undefined);
  }
}
