import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Update } from 'grammy/types';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { RedisConnections } from '../infra/redis/redis.module';
import { REMOVE_FINISHED_BEFORE } from './job-removal';
import { MIGRATE_LEGACY_JOB, UNLOCK } from './mailbox-scripts';
import { conversationKey, MailboxEntry, partitionQueueName } from './update-queue';

interface LegacyJobData {
  botId: string;
  update: Update;
  acceptedAt?: number;
}

/** Key that tells API processes to honour the old layout's dedupe keys; lives as long as they do. */
export const LEGACY_DEDUPE_MARKER = 'legacy-dedupe';

/**
 * The upgrade from the partition layout (64 BullMQ queues `updates-N`, before 1.0): updates still queued there move
 * into their conversations' mailboxes, ahead of anything accepted since (they are older), in their old order; their
 * dead letters move to the new dead letters. Workers run this before they take any conversation, one of them at a
 * time (a lock in Redis); it is idempotent and resumes where an interrupted run stopped.
 */
@Injectable()
export class LegacyQueueMigration {
  private readonly logger = new Logger(LegacyQueueMigration.name);

  constructor(
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get prefix(): string {
    return `${this.config.redisPrefix}:`;
  }

  private partitionPrefixes(): string[] {
    return Array.from({ length: this.config.queue.partitions }, (_, i) => `${this.prefix}${partitionQueueName(i)}:`);
  }

  async run(stop: () => boolean): Promise<void> {
    const redis = this.redis.general;
    const lockKey = `${this.prefix}legacy-migration`;
    const me = randomBytes(8).toString('hex');
    for (let attempt = 0; !stop(); attempt++) {
      try {
        const keys = this.partitionPrefixes().flatMap((qp) => [`${qp}wait`, `${qp}active`, `${qp}failed`]);
        if ((await redis.exists(...keys)) === 0) return;
        if ((await redis.set(lockKey, me, 'PX', 60_000, 'NX')) !== 'OK') {
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          continue;
        }
        const moved = await this.migrate(lockKey);
        await redis.eval(UNLOCK, 1, lockKey, me);
        this.logger.log({ msg: 'Moved the updates of the partition layout into conversation mailboxes', ...moved });
        return;
      } catch (error) {
        if (attempt === 0) this.logger.warn({ msg: 'Upgrade of queued updates postponed', err: serializeError(error) });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  private async migrate(lockKey: string): Promise<{ updates: number; deadLetters: number }> {
    const redis = this.redis.general;
    const P = this.prefix;
    await redis.set(`${P}${LEGACY_DEDUPE_MARKER}`, '1', 'EX', this.config.queue.dedupeTtlSeconds, 'NX');
    let updates = 0;
    let deadLetters = 0;
    for (const qp of this.partitionPrefixes()) {
      await redis.pexpire(lockKey, 60_000);
      // Oldest first: BullMQ pushes new jobs on the left of `wait` and takes them from the right into `active`.
      const active = (await redis.lrange(`${qp}active`, 0, -1)).reverse().map((id) => ({ id, list: 'active' }));
      const waiting = (await redis.lrange(`${qp}wait`, 0, -1)).reverse().map((id) => ({ id, list: 'wait' }));
      const jobs = [...active, ...waiting];
      // Newest first, each pushed on the head of its mailbox: the oldest ends up first.
      for (const [i, { id, list }] of jobs.reverse().entries()) {
        if (i % 200 === 199) await redis.pexpire(lockKey, 60_000);
        const raw = await redis.hget(`${qp}${id}`, 'data');
        if (!raw) {
          await redis.lrem(`${qp}${list}`, 1, id);
          continue;
        }
        const data = JSON.parse(raw) as LegacyJobData;
        const entry: MailboxEntry = {
          id: `${data.botId}-${data.update.update_id}`,
          at: data.acceptedAt ?? Date.now(),
          update: data.update,
        };
        const ck = conversationKey(data.update);
        updates += Number(
          await redis.eval(MIGRATE_LEGACY_JOB, 0, P, qp, list, id, data.botId, ck, JSON.stringify(entry)),
        );
      }
      const failed = await redis.zrange(`${qp}failed`, '0', '-1', 'WITHSCORES');
      for (let i = 0; i < failed.length; i += 2) {
        const id = failed[i];
        const job = await redis.hgetall(`${qp}${id}`);
        if (job.data) {
          const data = JSON.parse(job.data) as LegacyJobData;
          const log = await redis.lrange(`${qp}${id}:logs`, 0, -1);
          const failedAt = Number(job.finishedOn ?? failed[i + 1]);
          const entry: MailboxEntry = {
            id: `${data.botId}-${data.update.update_id}`,
            at: data.acceptedAt ?? failedAt,
            log,
            update: data.update,
          };
          const record = {
            id,
            botId: data.botId,
            ck: conversationKey(data.update),
            reason: job.failedReason ?? '',
            failedAt,
            entry,
          };
          await redis
            .multi()
            .set(`${P}dl:${id}`, JSON.stringify(record))
            .zadd(`${P}dls`, failedAt, id)
            .zadd(`${P}dlb:${data.botId}`, failedAt, id)
            .exec();
          deadLetters++;
        }
        await redis.del(`${qp}${id}`, `${qp}${id}:logs`);
        await redis.zrem(`${qp}failed`, id);
      }
      // What is left of the queue but its dedupe keys (`<queue>:de:*`, honoured by the webhook until they expire).
      await redis.eval(REMOVE_FINISHED_BEFORE, 1, `${qp}completed`, qp, 0, 1_000_000);
      await redis.del(`${qp}meta`, `${qp}id`, `${qp}events`, `${qp}stalled-check`, `${qp}marker`, `${qp}stalled`);
    }
    return { updates, deadLetters };
  }
}
