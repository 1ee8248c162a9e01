import { Inject, Injectable } from '@nestjs/common';
import type { Update } from 'grammy/types';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BadRequestError, NotFoundError } from '../common/errors';
import { withTimeout } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { DELETE_DEAD_LETTERS, REQUEUE_DEAD_LETTER } from './mailbox-scripts';
import { MailboxEntry, updateKind } from './update-queue';

/** Dead letters deleted per script call. */
const BATCH = 500;

/** A failed update as operators see it. */
export interface DeadLetterView {
  id: string;
  botId: string;
  /** Set for a delivery to a destination that failed (null: the bot's own features failed). */
  destinationId: string | null;
  updateId: number;
  kind: string;
  reason: string;
  acceptedAt: string | null;
  failedAt: string | null;
}

export interface DeadLetterDetail extends DeadLetterView {
  update: Update;
  /** One line per failed attempt. */
  attempts: string[];
}

/** A dead letter as stored (`<prefix>:dl:<id>`, JSON), indexed by time in `dls` and per bot in `dlb:<bot>`. */
export interface DeadLetterRecord {
  id: string;
  botId: string;
  /** The conversation key: a retry goes back to the end of that conversation. */
  ck: string;
  reason: string;
  failedAt: number;
  entry: MailboxEntry;
  /** A destination's delivery: its lane (`<bot>/<destination>`) and destination id. */
  lane?: string;
  destinationId?: string;
}

/**
 * The dead letters: updates that failed for good (a Telegram 4xx, every attempt used, the bot deleted, or twice
 * interrupted by a dying worker). They are taken out of their conversation when they fail, so they never block it,
 * and kept for FAILED_JOB_RETENTION_SECONDS. A retry puts the update at the end of its conversation, behind its newer
 * updates: an operator's retry is a new delivery, not a replay in the original order.
 */
@Injectable()
export class DeadLettersService {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnections,
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.prefix = `${config.redisPrefix}:`;
    metrics.onScrape(async () => {
      const [count, oldest] = await withTimeout(
        Promise.all([
          this.redis.general.zcard(`${this.prefix}dls`),
          this.redis.general.zrange(`${this.prefix}dls`, '0', '0', 'WITHSCORES'),
        ]),
        1_000,
      );
      metrics.deadLetters.set(count);
      metrics.oldestDeadLetterAge.set(
        oldest[1] === undefined ? 0 : Math.max(0, (Date.now() - Number(oldest[1])) / 1000),
      );
    });
  }

  /**
   * Newest first (same millisecond: by id, descending); `botId` filters by the gateway's bot id, `botIds` keeps the
   * dead letters of those bots only (a tenant's: ids start with their bot's id).
   */
  async list(query: { botId?: string; botIds?: Set<string>; cursor?: string; limit?: number }): Promise<{
    items: DeadLetterView[];
    nextCursor: string | null;
  }> {
    const limit = query.limit ?? 50;
    const index = query.botId ? `${this.prefix}dlb:${query.botId}` : `${this.prefix}dls`;
    let max = '+inf';
    let after: { score: number; id: string } | null = null;
    if (query.cursor) {
      const score = await this.redis.general.zscore(index, query.cursor);
      if (score === null)
        throw new BadRequestError('cursor does not name a dead letter of this list', 'invalid_cursor');
      after = { score: Number(score), id: query.cursor };
      max = score;
    }
    const ids: string[] = [];
    for (let offset = 0; ids.length <= limit; offset += limit + 1) {
      const flat = await this.redis.general.zrevrangebyscore(
        index,
        max,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        offset,
        limit + 1,
      );
      for (let i = 0; i < flat.length; i += 2) {
        const score = Number(flat[i + 1]);
        if (after && score === after.score && flat[i] >= after.id) continue;
        if (query.botIds && !query.botIds.has(flat[i].slice(0, 36))) continue;
        ids.push(flat[i]);
      }
      if (flat.length < (limit + 1) * 2) break;
    }
    const page = ids.slice(0, limit);
    const records = await this.records(page);
    // One removed since the index was read (retried, purged, expired) is left out.
    const items = records.flatMap((r) => (r ? [view(r)] : []));
    return { items, nextCursor: ids.length > limit ? page[page.length - 1] : null };
  }

  async get(id: string): Promise<DeadLetterDetail> {
    const record = await this.find(id);
    return { ...view(record), update: record.entry.update, attempts: record.entry.log ?? [] };
  }

  async retry(id: string): Promise<DeadLetterView> {
    const record = await this.find(id);
    if (!(await this.requeue(record))) throw notFound(id);
    return view(record);
  }

  /** Retries every dead letter of a bot; returns how many. */
  async retryAll(botId: string): Promise<number> {
    let count = 0;
    const ids = await this.redis.general.zrange(`${this.prefix}dlb:${botId}`, '0', '-1');
    for (let i = 0; i < ids.length; i += BATCH) {
      for (const record of await this.records(ids.slice(i, i + BATCH))) {
        if (record && (await this.requeue(record))) count++;
      }
    }
    return count;
  }

  /** Deletes dead letters: one (`id`), a bot's (`botId`), or all. Returns how many. Dedupe keys are kept. */
  async purge(target: { id?: string; botId?: string }): Promise<number> {
    if (target.id) {
      const record = await this.find(target.id);
      return this.delete([[record.id, record.botId]]);
    }
    const index = target.botId ? `${this.prefix}dlb:${target.botId}` : `${this.prefix}dls`;
    let count = 0;
    for (;;) {
      const ids = await this.redis.general.zrange(index, '0', String(BATCH - 1));
      if (ids.length === 0) return count;
      const records = await this.records(ids);
      // An index entry whose record is gone is removed with the bot id the index names (or, for `dls`, read back).
      const pairs = ids.map((id, i): [string, string] => [id, records[i]?.botId ?? target.botId ?? '']);
      count += await this.delete(pairs);
      await this.redis.general.zrem(index, ...ids);
    }
  }

  /** Deletes the dead letters older than FAILED_JOB_RETENTION_SECONDS; returns how many. */
  async sweep(): Promise<number> {
    const cutoff = Date.now() - this.config.queue.failedRetentionSeconds * 1000;
    let count = 0;
    for (;;) {
      const ids = await this.redis.general.zrangebyscore(
        `${this.prefix}dls`,
        '-inf',
        String(cutoff),
        'LIMIT',
        0,
        BATCH,
      );
      if (ids.length === 0) return count;
      const records = await this.records(ids);
      count += await this.delete(ids.map((id, i): [string, string] => [id, records[i]?.botId ?? '']));
      await this.redis.general.zrem(`${this.prefix}dls`, ...ids);
    }
  }

  private async delete(pairs: [string, string][]): Promise<number> {
    if (pairs.length === 0) return 0;
    return Number(await this.redis.general.eval(DELETE_DEAD_LETTERS, 0, this.prefix, ...pairs.flat()));
  }

  private async requeue(record: DeadLetterRecord): Promise<boolean> {
    const entry: MailboxEntry = { id: record.entry.id, at: Date.now(), update: record.entry.update };
    const args = [this.prefix, record.id, record.botId, record.ck, JSON.stringify(entry)];
    if (record.lane) args.push(record.lane);
    return Number(await this.redis.general.eval(REQUEUE_DEAD_LETTER, 0, ...args)) === 1;
  }

  private async find(id: string): Promise<DeadLetterRecord> {
    const record = id.length <= 200 ? (await this.records([id]))[0] : null;
    if (!record) throw notFound(id);
    return record;
  }

  private async records(ids: string[]): Promise<(DeadLetterRecord | null)[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.general.mget(ids.map((id) => `${this.prefix}dl:${id}`));
    return raws.map((raw) => (raw ? (JSON.parse(raw) as DeadLetterRecord) : null));
  }
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`No dead letter ${id.slice(0, 120)}`, 'dead_letter_not_found');
}

function view(record: DeadLetterRecord): DeadLetterView {
  return {
    id: record.id,
    botId: record.botId,
    destinationId: record.destinationId ?? null,
    updateId: record.entry.update.update_id,
    kind: updateKind(record.entry.update),
    reason: record.reason,
    acceptedAt: record.entry.at ? new Date(record.entry.at).toISOString() : null,
    failedAt: new Date(record.failedAt).toISOString(),
  };
}
