import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { BotChangeBus } from '../bots/bot-change.bus';
import { BotRegistryService } from '../bots/bot-registry.service';
import { DatabaseUnavailableError } from '../common/errors';
import { serializeError } from '../common/logger';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { RedisConnections } from '../infra/redis/redis.module';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { MetricsService } from '../metrics/metrics.service';
import { AuditService } from '../tenants/audit.service';
import { Principal } from '../tenants/tenant.types';
import { MailboxEntry, updateKind } from '../updates/update-queue';
import { DestinationRepository } from './destination.repository';
import { DestinationSecrets } from './destination-secrets';
import { DestinationRecord, destinationOfLane } from './destination.types';
import { HttpDelivery } from './http-delivery';

const BREAKER: Principal = { kind: 'operator', actor: 'system:destination-breaker' };

/** How long a worker reuses a destination it loaded (a change is also announced at once with its bot's). */
const CACHE_MS = 5_000;

export type DeliveryOutcome =
  | { kind: 'delivered' }
  /** The destination was removed: its waiting deliveries are dropped. */
  | { kind: 'gone' }
  /** Disabled (by an operator, or after failing too long): its deliveries wait until it is enabled again. */
  | { kind: 'disabled' }
  /** Postgres is away: wait without spending an attempt. */
  | { kind: 'unavailable' }
  /** The worker may no longer act for the conversation. */
  | { kind: 'lost' }
  /** The attempt failed; `pauseUntil` when the whole destination must wait (breaker open, or its Retry-After). */
  | { kind: 'failed'; reason: string; pauseUntil?: number };

interface Loaded {
  at: number;
  value: Promise<{ record: DestinationRecord; secrets: string[] } | null>;
}

/**
 * Delivers a destination's updates, one attempt at a time, for the update processor (which keeps the order per
 * conversation, the retries and the dead letters). Per destination it keeps, in Redis so that every worker sees
 * it: the failures in a row (`P:dbf:<id>`, the circuit breaker), when the failing began (`P:dbs:<id>`, automatic
 * disabling), and the log of attempts (`P:dlog:<id>`, a capped stream; replay reads it).
 */
@Injectable()
export class DestinationDeliveryService implements OnModuleDestroy {
  private readonly logger = new Logger('Destinations');
  private readonly http: HttpDelivery;
  private readonly cache = new Map<string, Loaded>();
  /** Destinations with metric series in this process: those of removed ones are dropped at the next scrape. */
  private readonly measured = new Set<string>();
  private readonly prefix: string;

  constructor(
    private readonly destinations: DestinationRepository,
    private readonly secrets: DestinationSecrets,
    private readonly registry: BotRegistryService,
    private readonly audit: AuditService,
    private readonly uow: UnitOfWork,
    private readonly redis: RedisConnections,
    private readonly metrics: MetricsService,
    changes: BotChangeBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.prefix = `${config.redisPrefix}:`;
    this.http = new HttpDelivery(config.destinations, Math.max(256, config.worker.concurrency));
    // Paused lanes (breaker open, a Retry-After, disabled), read from Redis at each scrape: right in every process.
    metrics.onScrape(async () => {
      const paused = await this.redis.general.zrangebyscore(`${this.prefix}paused`, Date.now(), '+inf');
      metrics.destinationBreakerOpen.reset();
      for (const lane of paused) {
        const destination = destinationOfLane(lane)?.destinationId;
        if (destination) metrics.destinationBreakerOpen.set({ destination }, 1);
      }
    });
    metrics.onScrape(() => this.forgetRemoved());
    changes.onChange((change) => {
      for (const [id, loaded] of this.cache) {
        void loaded.value.then((d) => {
          if (!d || d.record.botId === change.botId) this.cache.delete(id);
        });
      }
    });
  }

  onModuleDestroy() {
    this.http.close();
  }

  /** Drops the metric series of destinations that were removed (with Postgres away, the next scrape does). */
  private async forgetRemoved(): Promise<void> {
    if (this.measured.size === 0) return;
    const existing = await this.destinations.existing([...this.measured]);
    for (const destination of this.measured) {
      if (existing.has(destination)) continue;
      this.measured.delete(destination);
      for (const outcome of ['delivered', 'failed', 'dead']) {
        this.metrics.destinationDeliveries.remove({ destination, outcome });
      }
      this.metrics.destinationDuration.remove({ destination });
    }
  }

  async deliver(
    lane: { botId: string; destinationId: string },
    entry: MailboxEntry,
    attempt: number,
    mayCall: () => boolean,
  ): Promise<DeliveryOutcome> {
    let loaded: Awaited<Loaded['value']>;
    let botEnabled: boolean;
    try {
      loaded = await this.load(lane.destinationId);
      botEnabled = (await this.registry.findForWorker(lane.botId))?.enabled ?? false;
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) return { kind: 'unavailable' };
      // A secret this deployment cannot decrypt (its key removed from TOKEN_ENCRYPTION_KEYS): a failed attempt,
      // retried on the schedule (the operator may put the key back), never a crash of the conversation.
      return { kind: 'failed', reason: `Cannot load the destination: ${(error as Error).message}` };
    }
    if (!loaded || loaded.record.botId !== lane.botId) return { kind: 'gone' };
    const { record, secrets } = loaded;
    // A disabled bot forwards nothing either: its deliveries wait, like its updates.
    if (!record.enabled || !botEnabled) return { kind: 'disabled' };
    if (record.kind !== 'http' || !record.url) return { kind: 'gone' };
    if (!mayCall()) return { kind: 'lost' };

    const kind = updateKind(entry.update);
    const body = JSON.stringify({
      type: `update.${kind}`,
      timestamp: new Date(entry.at).toISOString(),
      data: { bot_id: lane.botId, update_id: entry.update.update_id, update: entry.update },
    });
    const result = await this.http.post(
      record.url,
      { id: entry.id, timestamp: new Date(), body },
      secrets,
      this.config.destinations.timeoutMs,
    );
    const id = record.id;
    this.measured.add(id);
    this.metrics.destinationDuration.observe({ destination: id }, result.ms / 1000);
    const log = [
      'msg',
      entry.id,
      'update_id',
      String(entry.update.update_id),
      'attempt',
      String(attempt),
      'status',
      String(result.status ?? ''),
      'ms',
      String(result.ms),
    ];
    const P = this.prefix;
    const logArgs = (outcome: string, extra: string[]) =>
      [
        `${P}dlog:${id}`,
        'MAXLEN',
        '~',
        this.config.destinations.logLength,
        '*',
        'outcome',
        outcome,
        ...log,
        ...extra,
      ] as const;
    if (result.ok) {
      this.metrics.destinationDeliveries.inc({ destination: id, outcome: 'delivered' });
      // Delivered whatever happens next: a lost log line or breaker reset must not deliver it twice.
      // Separate calls, not a pipeline() (see UpdateProducer.accept): the connection sends them in one write.
      const r = this.redis.general;
      await Promise.all([
        r.del(`${P}dbf:${id}`, `${P}dbs:${id}`),
        r.xadd(...logArgs('delivered', ['entry', entryForLog(entry)])),
      ]).catch((error: unknown) =>
        this.logger.warn({ msg: 'Could not log a delivery', destinationId: id, err: serializeError(error) }),
      );
      return { kind: 'delivered' };
    }

    const reason = result.error ?? 'failed';
    const final = attempt > this.config.destinations.retryScheduleMs.length;
    this.metrics.destinationDeliveries.inc({ destination: id, outcome: final ? 'dead' : 'failed' });
    const now = Date.now();
    const r = this.redis.general;
    const [count, , start] = await Promise.allSettled([
      r.incr(`${P}dbf:${id}`),
      r.set(`${P}dbs:${id}`, String(now), 'NX'),
      r.get(`${P}dbs:${id}`),
      r.xadd(...logArgs(final ? 'dead' : 'failed', ['error', reason, ...(final ? ['entry', entryForLog(entry)] : [])])),
    ]);
    const failures = count.status === 'fulfilled' ? count.value : 1;
    const since = start.status === 'fulfilled' && start.value !== null ? Number(start.value) : now;
    const { disableAfterMs, breakerFailures, breakerCooldownMs } = this.config.destinations;
    if (disableAfterMs > 0 && now - since >= disableAfterMs) await this.disable(record, since);

    let pauseUntil: number | undefined;
    if (result.retryAfterMs !== undefined && result.retryAfterMs > 0)
      pauseUntil = now + Math.min(result.retryAfterMs, 24 * 3_600_000);
    if (failures >= breakerFailures) {
      const cooldown = Math.min(breakerCooldownMs * 2 ** Math.min(failures - breakerFailures, 10), 600_000);
      pauseUntil = Math.max(pauseUntil ?? 0, now + cooldown);
      if (failures === breakerFailures) {
        this.logger.warn({
          msg: 'Destination failing: its circuit breaker opened, its deliveries pause',
          destinationId: id,
          botId: record.botId,
          failures,
          reason,
        });
      }
    }
    return { kind: 'failed', reason, pauseUntil };
  }

  /** Disables a destination that has failed since `since`: an operational event (log, metric, audit record). */
  private async disable(record: DestinationRecord, since: number): Promise<void> {
    const hours = ((Date.now() - since) / 3_600_000).toFixed(1);
    const reason = `Failing for ${hours} h without a successful delivery`;
    try {
      const bot = await this.registry.resolve(record.botId);
      const disabled = await this.uow.run(async () => {
        if (!(await this.destinations.disableIfEnabled(record.id, reason)) || !bot) return false;
        await this.audit.record(
          BREAKER,
          'destination.disable',
          { tenantId: bot.tenantId, botId: bot.id, target: `destination:${record.id}` },
          { reason },
        );
        await this.registry.routesChanged(bot);
        return true;
      });
      this.cache.delete(record.id);
      if (!disabled) return;
      this.metrics.destinationsDisabled.inc({ reason: 'failing' });
      this.logger.error({
        msg: 'Destination disabled automatically',
        destinationId: record.id,
        botId: record.botId,
        reason,
      });
    } catch (error) {
      this.logger.warn({
        msg: 'Could not disable a failing destination',
        destinationId: record.id,
        err: serializeError(error),
      });
    }
  }

  private load(id: string): Loaded['value'] {
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached.value;
    const value = this.destinations
      .get(id)
      .then((record) => record && { record, secrets: this.secrets.signing(record) });
    this.cache.set(id, { at: Date.now(), value });
    value.catch(() => this.cache.delete(id));
    return value;
  }
}

/** The entry as replay needs it: without its attempts. */
function entryForLog(entry: MailboxEntry): string {
  return JSON.stringify({ id: entry.id, at: entry.at, update: entry.update });
}
