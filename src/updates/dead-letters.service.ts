import { Injectable } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import type { Update } from 'grammy/types';
import { BadRequestError, NotFoundError } from '../common/errors';
import { withTimeout } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { REMOVE_FAILED_JOBS } from './job-removal';
import { UpdateJobData, updateKind } from './update-queue';
import { UpdateProducer } from './update.producer';

/** Jobs removed per script call by a purge. */
const PURGE_BATCH = 500;

/** A failed update as operators see it. `id` is `<partition>.<job id>`. */
export interface DeadLetterView {
  id: string;
  botId: string;
  updateId: number;
  kind: string;
  reason: string;
  acceptedAt: string | null;
  failedAt: string | null;
}

export interface DeadLetterDetail extends DeadLetterView {
  update: Update;
  /** The job's log: one line per failed attempt. */
  attempts: string[];
}

interface Entry {
  partition: number;
  jobId: string;
  failedAt: number;
}

/**
 * The dead letters: updates that failed for good (a Telegram 4xx, or every attempt used) sit in the failed sets of
 * the partition queues until FAILED_JOB_RETENTION_SECONDS. A failed update never blocks its chat: the partition
 * moves on as soon as it fails. A retry puts it at the end of its partition queue, behind its chat's newer updates:
 * an operator's retry is a new delivery, not a replay in the original order.
 */
@Injectable()
export class DeadLettersService {
  constructor(
    private readonly producer: UpdateProducer,
    private readonly redis: RedisConnections,
    metrics: MetricsService,
  ) {
    metrics.onScrape(async () => {
      const perPartition = await withTimeout(
        Promise.all(
          this.producer.queues.map(async (queue) => {
            const [count, oldest] = await Promise.all([
              this.redis.general.zcard(queue.keys.failed),
              this.redis.general.zrange(queue.keys.failed, '0', '0', 'WITHSCORES'),
            ]);
            return { count, oldest: oldest[1] === undefined ? Number.POSITIVE_INFINITY : Number(oldest[1]) };
          }),
        ),
        1_000,
      );
      const count = perPartition.reduce((sum, p) => sum + p.count, 0);
      const oldest = Math.min(...perPartition.map((p) => p.oldest));
      metrics.deadLetters.set(count);
      metrics.oldestDeadLetterAge.set(count === 0 ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    });
  }

  /**
   * Newest first (ties at the same millisecond: see compareNewestFirst); `botId` filters by the gateway's bot id. Reads each
   * partition's failed set from the cursor on, a chunk at a time, and merges them: a page costs about `limit`
   * entries per partition, not every dead letter, however deep the cursor.
   */
  async list(query: { botId?: string; cursor?: string; limit?: number }): Promise<{
    items: DeadLetterView[];
    nextCursor: string | null;
  }> {
    const limit = query.limit ?? 50;
    const after = query.cursor ? await this.cursorEntry(query.cursor) : null;
    const readers = this.producer.queues.map((queue, partition) =>
      this.reader(queue, partition, after, query.botId, limit + 1),
    );
    const heads = await Promise.all(readers.map((reader) => reader.next()));
    const entries: Entry[] = [];
    while (entries.length <= limit) {
      let best = -1;
      heads.forEach((head, i) => {
        if (head.done) return;
        if (best < 0 || compareNewestFirst(head.value, heads[best].value as Entry) < 0) best = i;
      });
      if (best < 0) break;
      entries.push(heads[best].value as Entry);
      heads[best] = await readers[best].next();
    }
    await Promise.all(readers.map((reader) => reader.return(undefined)));
    const page = entries.slice(0, limit);
    const jobs = await Promise.all(page.map((e) => this.job(e)));
    // A job removed since the failed sets were read (retried, purged, expired) is left out.
    const items = page.flatMap((entry, i) => (jobs[i] ? [this.view(entry, jobs[i])] : []));
    return { items, nextCursor: entries.length > limit ? this.idOf(page[page.length - 1]) : null };
  }

  /** The entry a cursor (the id of the last item of the previous page) names, with its place in the failed set. */
  private async cursorEntry(cursor: string): Promise<Entry> {
    const match = /^(\d{1,4})\.(.+)$/.exec(cursor);
    const queue = match ? this.producer.queues[Number(match[1])] : undefined;
    const score = queue && match ? await this.redis.general.zscore(queue.keys.failed, match[2]) : null;
    if (!match || score === null) {
      throw new BadRequestError('cursor does not name a dead letter of this list', 'invalid_cursor');
    }
    return { partition: Number(match[1]), jobId: match[2], failedAt: Number(score) };
  }

  /** One partition's failed jobs after `after`, newest first, read `chunk` at a time. */
  private async *reader(
    queue: Queue<UpdateJobData>,
    partition: number,
    after: Entry | null,
    botId: string | undefined,
    chunk: number,
  ): AsyncGenerator<Entry, void, undefined> {
    const max = after ? String(after.failedAt) : '+inf';
    for (let offset = 0; ; offset += chunk) {
      const flat = await this.redis.general.zrevrangebyscore(
        queue.keys.failed,
        max,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        offset,
        chunk,
      );
      for (let i = 0; i < flat.length; i += 2) {
        const entry = { partition, jobId: flat[i], failedAt: Number(flat[i + 1]) };
        if (after && compareNewestFirst(entry, after) <= 0) continue;
        // Job ids start with the bot id (see UpdateProducer), so a bot's dead letters are found by prefix.
        if (botId && !entry.jobId.startsWith(`${botId}-`)) continue;
        yield entry;
      }
      if (flat.length < chunk * 2) return;
    }
  }

  async get(id: string): Promise<DeadLetterDetail> {
    const { entry, job } = await this.find(id);
    const queue = this.producer.queues[entry.partition];
    const { logs } = await queue.getJobLogs(job.id!);
    return { ...this.view(entry, job), update: job.data.update, attempts: logs };
  }

  async retry(id: string): Promise<DeadLetterView> {
    const { entry, job } = await this.find(id);
    // Taken before the retry, which clears the job's failure (reason, failedAt) in place.
    const view = this.view(entry, job);
    await job.retry('failed');
    return view;
  }

  /** Retries every dead letter of a bot; returns how many. */
  async retryAll(botId: string): Promise<number> {
    let count = 0;
    for (const entry of await this.entries(botId)) {
      const job = await this.job(entry);
      if (!job) continue;
      await job.retry('failed');
      count++;
    }
    return count;
  }

  /**
   * Deletes dead letters: one (`id`), a bot's (`botId`), or all. Returns how many. One script call per partition and
   * batch; each job's dedupe key stays until its TTL, so a late retry of a purged update by Telegram is still
   * recognised as a duplicate rather than processed again.
   */
  async purge(target: { id?: string; botId?: string }): Promise<number> {
    const entries = target.id ? [(await this.find(target.id)).entry] : await this.entries(target.botId);
    const byPartition = new Map<number, string[]>();
    for (const { partition, jobId } of entries) {
      const ids = byPartition.get(partition);
      if (ids) ids.push(jobId);
      else byPartition.set(partition, [jobId]);
    }
    let count = 0;
    for (const [partition, jobIds] of byPartition) {
      const queue = this.producer.queues[partition];
      const jobPrefix = queue.toKey('');
      for (let i = 0; i < jobIds.length; i += PURGE_BATCH) {
        const batch = jobIds.slice(i, i + PURGE_BATCH);
        count += Number(await this.redis.general.eval(REMOVE_FAILED_JOBS, 1, queue.keys.failed, jobPrefix, ...batch));
      }
    }
    return count;
  }

  private async find(id: string): Promise<{ entry: Entry; job: Job<UpdateJobData> }> {
    const match = /^(\d{1,4})\.(.+)$/.exec(id);
    const partition = match ? Number(match[1]) : -1;
    const queue = this.producer.queues[partition];
    const job = queue && match ? await this.jobOf(queue, match[2]) : undefined;
    if (!job || !(await job.isFailed()))
      throw new NotFoundError(`No dead letter ${id.slice(0, 120)}`, 'dead_letter_not_found');
    return { entry: { partition, jobId: job.id!, failedAt: job.finishedOn ?? 0 }, job };
  }

  /** Every failed job id with its time, newest first, read from the failed sets without loading the jobs. */
  private async entries(botId?: string): Promise<Entry[]> {
    const all = await Promise.all(
      this.producer.queues.map(async (queue, partition) => {
        const flat = await this.redis.general.zrevrange(queue.keys.failed, 0, -1, 'WITHSCORES');
        const out: Entry[] = [];
        for (let i = 0; i < flat.length; i += 2) {
          const jobId = flat[i];
          // Job ids start with the bot id (see UpdateProducer), so a bot's dead letters are found by prefix.
          if (botId && !jobId.startsWith(`${botId}-`)) continue;
          out.push({ partition, jobId, failedAt: Number(flat[i + 1]) });
        }
        return out;
      }),
    );
    return all.flat().sort(compareNewestFirst);
  }

  private job(entry: Entry): Promise<Job<UpdateJobData> | undefined> {
    return this.jobOf(this.producer.queues[entry.partition], entry.jobId);
  }

  private async jobOf(queue: Queue<UpdateJobData>, jobId: string): Promise<Job<UpdateJobData> | undefined> {
    return (await Job.fromId<UpdateJobData>(queue, jobId)) ?? undefined;
  }

  private idOf(entry: Entry): string {
    return `${entry.partition}.${entry.jobId}`;
  }

  private view(entry: Entry, job: Job<UpdateJobData>): DeadLetterView {
    return {
      id: this.idOf(entry),
      botId: job.data.botId,
      updateId: job.data.update.update_id,
      kind: updateKind(job.data.update),
      reason: job.failedReason ?? '',
      acceptedAt: job.data.acceptedAt ? new Date(job.data.acceptedAt).toISOString() : null,
      failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null,
    };
  }
}

/**
 * The lists' order: newest first; at the same millisecond, by partition and then job id, both descending (within a
 * partition that is the order ZREVRANGEBYSCORE returns, so each partition's reader is already sorted).
 */
function compareNewestFirst(a: Entry, b: Entry): number {
  if (a.failedAt !== b.failedAt) return b.failedAt - a.failedAt;
  if (a.partition !== b.partition) return b.partition - a.partition;
  return a.jobId < b.jobId ? 1 : a.jobId > b.jobId ? -1 : 0;
}
