import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  BackendFactory,
  createRedisBackend,
  Job,
  RedisQueueBackend,
  UnrecoverableError,
  WaitingError,
  Worker,
} from 'bullmq';
import { Bot, Composer } from 'grammy';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BotRegistryService } from '../bots/bot-registry.service';
import { WorkerBot } from '../bots/bot.types';
import { evict } from '../bots/versioned-cache';
import { serializeError } from '../common/logger';
import { GatewayContext } from '../handlers/context';
import { coalesceWrites } from '../infra/redis/coalesce-writes';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { createTelegramFetch } from '../telegram/telegram-fetch';
import { createDispatcher } from './dispatcher';
import { classifyFailure, Failure } from './telegram-errors';
import { UpdateJobData, updateKind } from './update-queue';
import { UpdateProducer } from './update.producer';

/** Time a grammY API call may take before it counts as a network failure. */
const TELEGRAM_TIMEOUT_SECONDS = 25;

/**
 * Consumes the partition queues and runs each update through the shared dispatcher.
 *
 * Order: each partition queue has a global concurrency of 1 and a chat always maps to the same partition, so a
 * chat's updates run one at a time, in the order they were accepted, whichever worker process takes them. For
 * the same reason a failed update is retried inside its job (backoff, or Telegram's retry_after) instead of
 * through BullMQ's delayed set, where the chat's next update would overtake it: a failing update holds back its
 * partition for at most its retry budget, then goes to the failed set (dead letters) and the partition moves on.
 */
@Injectable()
export class UpdateProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(UpdateProcessor.name);
  private readonly dispatcher: Composer<GatewayContext>;
  private readonly workers: Worker<UpdateJobData>[] = [];
  /** grammY bots by bot id, reused across updates (least recently used first out); rebuilt when the token changes. */
  private readonly grammyBots = new Map<string, { token: string; bot: Bot<GatewayContext> }>();
  private readonly fetch = createTelegramFetch();
  private readonly sleepers = new Set<() => void>();
  private closing = false;
  private starting?: Promise<void>;

  constructor(
    private readonly registry: BotRegistryService,
    private readonly producer: UpdateProducer,
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
    // In the background: a worker started while Redis is away must not hold up the process (health, metrics).
    this.starting = this.start();
  }

  // Runs before the HTTP server and the connections close (see bootstrap.ts).
  async beforeApplicationShutdown() {
    this.closing = true;
    for (const wake of this.sleepers) wake();
    await this.starting?.catch(() => undefined);
    // Waits for the jobs in progress; a job waiting to retry goes back to the head of its partition.
    await Promise.all(this.workers.map((worker) => worker.close()));
  }

  private async start(): Promise<void> {
    // Global concurrency 1 is what keeps a partition (and so each chat) sequential across processes; no worker
    // may consume before it is set.
    for (let attempt = 0; !this.closing; attempt++) {
      try {
        await Promise.all(this.producer.queues.map((queue) => queue.setGlobalConcurrency(1)));
        break;
      } catch (error) {
        if (attempt === 0)
          this.logger.warn({ msg: 'Redis unavailable; workers start when it is back', err: serializeError(error) });
        await this.sleep(1_000);
      }
    }
    if (this.closing) return;
    const { lockDurationMs } = this.config.worker;
    const connection = coalesceWrites(this.redis.forWorker('worker'));
    // BullMQ gives each Worker a connection of its own, used both for its blocking wait and for its commands. Here
    // the blocking wait keeps a connection per partition, but the commands (take, finish, extend locks) of all
    // partitions share one connection whose writes are coalesced (see coalesceWrites): one system call for many
    // jobs instead of one per command, on both sides.
    const backend: BackendFactory<RedisQueueBackend> = (name, opts) =>
      createRedisBackend(name, { ...opts, connection }, { blocking: false, withBlockingConnection: true });
    for (const queue of this.producer.queues) {
      const worker = new Worker<UpdateJobData>(
        queue.name,
        (job, token) => this.process(job, token),
        {
          connection,
          prefix: this.config.redisPrefix,
          concurrency: 1,
          lockDuration: lockDurationMs,
          stalledInterval: lockDurationMs,
          // A job whose worker died twice in a row (a poison update crashing the process) ends in the failed set.
          maxStalledCount: 2,
        },
        backend,
      );
      worker.on('failed', (job, error) => {
        if (!job || error instanceof WaitingError) return;
        this.logger.warn({
          msg: 'Update failed; kept in the failed set',
          jobId: job.id,
          botId: job.data.botId,
          updateId: job.data.update.update_id,
          reason: error.message,
        });
      });
      worker.on('error', (error) => this.logger.error({ msg: 'Worker error', err: serializeError(error) }));
      this.workers.push(worker);
    }
    this.logger.log(`Consuming ${this.workers.length} partition queues`);
  }

  async process(job: Job<UpdateJobData>, token?: string): Promise<void> {
    const { attempts, backoffMs, backoffMaxMs } = this.config.queue;
    let outageWaits = 0;
    for (let attempt = 1; ; attempt++) {
      const failure = await this.attempt(job.data);
      if (!failure) {
        this.metrics.updatesProcessed.inc({ kind: updateKind(job.data.update) });
        return;
      }
      this.metrics.updatesFailed.inc({ kind: failure.kind });
      if (failure.kind === 'permanent') {
        await this.logAttempt(job, `Attempt ${attempt} failed (permanent): ${failure.reason}; not retried`);
        throw new UnrecoverableError(failure.reason);
      }
      let waitMs: number;
      if (failure.kind === 'unavailable') {
        // Our own Redis or Postgres is away: wait for it as long as it takes, without spending an attempt.
        attempt--;
        waitMs = Math.min(backoffMs * 2 ** outageWaits++, 5_000);
      } else {
        if (attempt >= attempts) {
          await this.logAttempt(job, `Attempt ${attempt} failed (${failure.kind}): ${failure.reason}; giving up`);
          throw new UnrecoverableError(`Gave up after ${attempt} attempts: ${failure.reason}`);
        }
        waitMs =
          failure.kind === 'rate_limited'
            ? failure.retryAfterMs
            : Math.min(backoffMs * 2 ** (attempt - 1), backoffMaxMs);
        await this.logAttempt(
          job,
          `Attempt ${attempt} failed (${failure.kind}): ${failure.reason}; retrying in ${waitMs} ms`,
        );
      }
      if (!(await this.sleep(waitMs))) {
        // Shutting down: hand the job back to the head of its partition rather than sit on it.
        await job.moveToWait(token);
        throw new WaitingError();
      }
    }
  }

  /** One line per failed attempt in the job's log (shown with dead letters). Best effort: it must not fail the job. */
  private async logAttempt(job: Job<UpdateJobData>, line: string): Promise<void> {
    await job.log(line).catch(() => undefined);
  }

  /** Runs the update once; the failure, if any, classified. */
  private async attempt({ botId, update }: UpdateJobData): Promise<Failure | null> {
    try {
      const bot = await this.registry.findForWorker(botId);
      if (!bot) return { kind: 'permanent', reason: 'The bot is no longer registered' };
      await this.grammyBot(bot).handleUpdate(update);
      return null;
    } catch (error) {
      return classifyFailure(error);
    }
  }

  private grammyBot(bot: WorkerBot): Bot<GatewayContext> {
    const cached = this.grammyBots.get(bot.id);
    this.grammyBots.delete(bot.id);
    if (cached && cached.token === bot.token && cached.bot.botInfo === bot.botInfo) {
      this.grammyBots.set(bot.id, cached);
      return cached.bot;
    }
    const grammyBot = new Bot<GatewayContext>(bot.token, {
      botInfo: bot.botInfo,
      client: { apiRoot: this.config.telegramApiRoot, timeoutSeconds: TELEGRAM_TIMEOUT_SECONDS, fetch: this.fetch },
    });
    grammyBot.use(this.dispatcher);
    this.grammyBots.set(bot.id, { token: bot.token, bot: grammyBot });
    evict(this.grammyBots, this.config.botCache.size);
    return grammyBot;
  }

  /** Waits, unless the process starts shutting down; false when interrupted. */
  private sleep(ms: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleepers.delete(wake);
        resolve(true);
      }, ms);
      this.sleepers.add(wake);
    });
  }
}
