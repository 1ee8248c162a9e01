import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Update } from 'grammy/types';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ServiceUnavailableError } from '../common/errors';
import { withTimeout } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { LEGACY_DEDUPE_MARKER } from './legacy-migration';
import { ACCEPT } from './mailbox-scripts';
import { conversationKey, legacyPartitionOf, MailboxEntry, partitionQueueName, updateKind } from './update-queue';
import { targetsOf, UpdateRoutes } from '../destinations/destination.types';

export type EnqueueResult = 'accepted' | 'duplicate' | 'over_quota';

/** Most accepts sent to Redis in one write. */
const MAX_BATCH = 256;

type AcceptArgs = [
  string,
  string,
  string,
  number,
  string,
  number,
  number,
  string,
  string,
  string,
  string,
  number,
  ...string[],
];

interface PendingAccept {
  args: AcceptArgs;
  resolve: (result: number) => void;
  reject: (error: unknown) => void;
}

/** The `accept` script as an ioredis command (EVALSHA, loaded on first use). */
export function withMailboxAccept(redis: Redis): Redis & { tgwAccept(...args: AcceptArgs): Promise<number> } {
  if (!('tgwAccept' in redis)) redis.defineCommand('tgwAccept', { numberOfKeys: 0, lua: ACCEPT });
  return redis as Redis & { tgwAccept(...args: AcceptArgs): Promise<number> };
}

/**
 * Stores accepted updates in their conversations' mailboxes (see mailbox-scripts.ts): one script call per update,
 * which checks the dedupe key, appends the update to its conversation and, when the conversation was idle, makes it
 * ready. The calls of one event-loop turn go to Redis in one write.
 */
@Injectable()
export class UpdateProducer implements OnApplicationBootstrap {
  private readonly logger = new Logger(UpdateProducer.name);
  private readonly redis: ReturnType<typeof withMailboxAccept>;
  private readonly prefix: string;
  private batch: PendingAccept[] = [];
  /** Set when queues of the layout before 1.0 exist: their dedupe keys are checked too (for 25 h after an upgrade). */
  private legacyDedupe = false;

  constructor(
    redis: RedisConnections,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.redis = withMailboxAccept(redis.producer);
    this.prefix = `${config.redisPrefix}:`;
    metrics.onScrape(async () => {
      const P = this.prefix;
      const [pending, active, delayed, paused] = await withTimeout(
        Promise.all([
          redis.general.get(`${P}pending`),
          redis.general.hlen(`${P}lease`),
          redis.general.zcard(`${P}delayed`),
          redis.general.zcard(`${P}paused`),
        ]),
        1_000,
      );
      metrics.queueDepth.set({ state: 'waiting' }, Math.max(0, Number(pending ?? 0) - active));
      metrics.queueDepth.set({ state: 'active' }, active);
      metrics.queueDepth.set({ state: 'delayed' }, delayed);
      metrics.pausedBots.set(paused);
    });
  }

  async onApplicationBootstrap() {
    const names = Array.from({ length: this.config.queue.partitions }, (_, i) => partitionQueueName(i));
    const keys = [...names.map((n) => `${this.prefix}${n}:meta`), `${this.prefix}${LEGACY_DEDUPE_MARKER}`];
    try {
      this.legacyDedupe = (await withTimeout(this.redis.exists(...keys), 2_000)) > 0;
      if (this.legacyDedupe) this.logger.log('Queues of the partition layout found: their dedupe keys are honoured');
    } catch {
      // Redis away at start (the webhook answers 503 meanwhile): look again as soon as it is back.
      this.redis.once('ready', () => void this.onApplicationBootstrap());
    }
  }

  /**
   * Stores the update durably, once per (bot, update_id): the dedupe key lives for DEDUPE_TTL_SECONDS (≥ 25 h, past
   * Telegram's 24 h retry window). Redis trouble surfaces within ENQUEUE_TIMEOUT_MS as ServiceUnavailableError:
   * Telegram then keeps the update and sends it again, so nothing acknowledged is lost. `maxPending` (0: no limit)
   * is the most updates the bot may have waiting: at that, nothing is stored and the answer is `over_quota`.
   * `routes`: the bot's destinations (the update goes to those whose kinds match, and to the bot's own lane when it
   * has features); without them, to the bot's own lane only.
   */
  async enqueue(
    botId: string,
    update: Update,
    json?: string,
    maxPending = 0,
    routes?: UpdateRoutes,
  ): Promise<EnqueueResult> {
    const started = process.hrtime.bigint();
    const id = `${botId}-${update.update_id}`;
    const at = Date.now();
    // The body's own text when the caller has it (the webhook): the same JSON as stringifying the parsed update.
    const entry =
      json === undefined
        ? JSON.stringify({ id, at, update } satisfies MailboxEntry)
        : `{"id":${JSON.stringify(id)},"at":${at},"update":${json}}`;
    const kind = routes ? updateKind(update) : '';
    const { botLane, targets, streams } = targetsOf(routes, kind);
    const args: AcceptArgs = [
      this.prefix,
      botId,
      conversationKey(update),
      update.update_id,
      entry,
      this.config.queue.dedupeTtlSeconds,
      maxPending,
      this.legacyDedupe
        ? `${this.prefix}${partitionQueueName(legacyPartitionOf(botId, update, this.config.queue.partitions))}:de:${botId}-${update.update_id}`
        : '',
      botLane ? '1' : '0',
      streams ? (json ?? JSON.stringify(update)) : '',
      streams ? kind : '',
      this.config.destinations.logLength,
      ...targets,
    ];
    try {
      const result = await this.accept(args);
      this.metrics.enqueueDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return result === 1 ? 'accepted' : result === 0 ? 'duplicate' : 'over_quota';
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
   * Batched: the accepts requested during one turn of the event loop share one timeout and leave together (the
   * producer's connection coalesces a turn's writes into one; see coalesceWrites). Each accept is its own script
   * call, answered on its own. Not an ioredis `pipeline()`, which kept every request's objects alive through
   * young-generation collections and made them 4–8 ms (docs/architecture.md, "No ioredis pipeline() on hot paths").
   */
  private accept(args: AcceptArgs): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.batch.push({ args, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => this.flush());
      else if (this.batch.length >= MAX_BATCH) this.flush();
    });
  }

  /** Sends a batch; an answer that takes longer than ENQUEUE_TIMEOUT_MS fails the batch (one timer per batch). */
  private flush(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const timeoutMs = this.config.webhook.enqueueTimeoutMs;
    let open = batch.length;
    const timer = setTimeout(() => {
      const error = new Error(`Timed out after ${timeoutMs} ms`);
      for (const { reject } of batch) reject(error);
    }, timeoutMs);
    const settled = () => {
      if (--open === 0) clearTimeout(timer);
    };
    for (const { args, resolve, reject } of batch) {
      this.redis.tgwAccept(...args).then(
        (result) => {
          resolve(Number(result));
          settled();
        },
        (error: unknown) => {
          reject(error);
          settled();
        },
      );
    }
  }
}
