import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { BotAdminService } from '../bots/bot-admin.service';
import { BotRegistryService } from '../bots/bot-registry.service';
import { BotRecord } from '../bots/bot.types';
import { WebhookDrift, webhookDrift } from '../bots/webhook-drift';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { redactSecrets } from '../common/redact';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { TelegramRejectedError, TelegramService } from '../telegram/telegram.service';
import { LeaderLease } from './leader-lease';
import { WebhookErrorKind, webhookErrorKind } from './webhook-error-kind';
import { Principal } from '../tenants/tenant.types';

/** Who the repair acts as in the audit trail: the deployment itself, with an operator's reach. */
const MONITOR: Principal = { kind: 'operator', actor: 'system:webhook-health' };

/** What the last check of a bot found. */
interface BotHealth {
  pending: number;
  lastErrorAt: number | null;
  kind: WebhookErrorKind;
  failing: boolean;
  drift: WebhookDrift[];
  /** When the monitor last set the webhook again: a 401 Telegram reported before that is not a drift any more. */
  repairedAt: number;
}

const PAGE = 100;

/**
 * Checks every enabled bot's webhook at Telegram (getWebhookInfo) once per WEBHOOK_HEALTH_INTERVAL_SECONDS, the
 * checks spread evenly over the interval and never more than WEBHOOK_HEALTH_RATE a second. One worker process at a
 * time does it: the one holding a lease in Redis, renewed every third of WEBHOOK_HEALTH_LEASE_MS (another takes over
 * when it stops). It logs when a bot's webhook starts failing or drifts from what the gateway expects, and when it
 * recovers; exports the state as metrics; optionally sets a drifted webhook again (WEBHOOK_HEALTH_REPAIR); and marks
 * a bot revoked when Telegram rejects its token (getWebhookInfo and getMe both answer 401).
 */
@Injectable()
export class WebhookHealthMonitor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('WebhookHealth');
  private readonly lease: LeaderLease;
  private readonly health = new Map<string, BotHealth>();
  private readonly settings: AppConfig['webhookHealth'];
  private renewTimer?: NodeJS.Timeout;
  private loop?: Promise<void>;
  private closing = false;
  private wake?: () => void;
  private roundFailures = 0;

  constructor(
    private readonly registry: BotRegistryService,
    private readonly admin: BotAdminService,
    private readonly telegram: TelegramService,
    private readonly metrics: MetricsService,
    redis: RedisConnections,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.settings = config.webhookHealth;
    this.lease = new LeaderLease(
      redis.general,
      `${config.redisPrefix}:webhook-health:leader`,
      `${Date.now().toString(36)}${randomBytes(6).toString('hex')}`,
      this.settings.leaseMs,
    );
  }

  /** Whether Telegram's last error counts as current: newer than the last check's interval (at least 10 min). */
  private get errorWindowMs(): number {
    return Math.max(2 * this.settings.intervalMs, 600_000);
  }

  onApplicationBootstrap() {
    if (this.settings.intervalMs === 0) return;
    this.metrics.onScrape(() => Promise.resolve(this.exportGauges()));
    this.renewTimer = setInterval(() => void this.renew(), Math.floor(this.settings.leaseMs / 3));
    this.loop = this.renew().then(() => this.run());
  }

  async beforeApplicationShutdown() {
    if (this.settings.intervalMs === 0) return;
    this.closing = true;
    clearInterval(this.renewTimer);
    this.wake?.();
    // A check in flight ends by itself (a Telegram call has its own timeout); shutdown does not wait for it long.
    await Promise.race([this.loop, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    if (this.lease.held) await this.lease.release().catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (this.closing) return;
    const was = this.lease.held;
    try {
      if (await this.lease.acquireOrRenew()) {
        if (!was) {
          this.logger.log('This process now checks the webhooks of the enabled bots');
          this.wake?.();
        }
        return;
      }
    } catch {
      // Redis away: the lease lapses by itself (by this process' clock first) unless a renewal gets through.
      if (this.lease.held) return;
    }
    if (was) this.logger.log('Another process checks the webhooks now');
    this.health.clear();
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      if (!this.lease.held) {
        await this.sleep(this.settings.leaseMs / 3);
        continue;
      }
      const started = Date.now();
      try {
        await this.round();
        this.roundFailures = 0;
      } catch (error) {
        if (this.roundFailures++ === 0) {
          this.logger.warn({ msg: 'Webhook checks interrupted; retried next round', err: serializeError(error) });
        }
      }
      await this.sleep(Math.max(1_000, started + this.settings.intervalMs - Date.now()));
    }
  }

  /** One check of every enabled bot, spread over the interval. */
  private async round(): Promise<void> {
    const total = await this.registry.countEnabled();
    const spacingMs = Math.max(total > 0 ? this.settings.intervalMs / total : 0, 1000 / this.settings.ratePerSecond);
    const seen = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await this.registry.listEnabled(after, PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1].id;
      for (const record of page) {
        if (this.closing || !this.lease.held) return;
        seen.add(record.id);
        // A revoked token is not called with until it is replaced.
        if (record.revokedAt) {
          this.health.delete(record.id);
          continue;
        }
        const started = Date.now();
        await this.check(record);
        await this.sleep(spacingMs - (Date.now() - started));
      }
    }
    for (const id of this.health.keys()) if (!seen.has(id)) this.health.delete(id);
  }

  private async check(record: BotRecord): Promise<void> {
    const token = this.registry.tokenOf(record);
    let info;
    try {
      info = await this.telegram.getWebhookInfo(token);
    } catch (error) {
      if (isUnauthorized(error)) return this.confirmRevoked(record, token);
      this.metrics.webhookChecks.inc({ result: 'error' });
      this.logger.warn({
        msg: "Could not check a bot's webhook",
        botId: record.id,
        reason: error instanceof Error ? redactSecrets(error.message) : 'unknown error',
      });
      return;
    }
    const now = Date.now();
    const previous = this.health.get(record.id);
    const repairedAt = previous?.repairedAt ?? 0;
    const lastErrorAt = info.last_error_date ? info.last_error_date * 1000 : null;
    const failing = lastErrorAt !== null && now - lastErrorAt < this.errorWindowMs && lastErrorAt > repairedAt;
    const drift = webhookDrift(info, this.admin.expectedWebhook(record, token), failing);
    const current: BotHealth = {
      pending: Number.isFinite(info.pending_update_count) ? info.pending_update_count : 0,
      lastErrorAt,
      kind: webhookErrorKind(info.last_error_message),
      failing,
      drift,
      repairedAt,
    };
    this.health.set(record.id, current);
    this.metrics.webhookChecks.inc({ result: drift.length > 0 ? 'drift' : failing ? 'failing' : 'ok' });
    const lastError = info.last_error_message
      ? redactSecrets(info.last_error_message.split(token).join('<redacted>'))
      : null;
    if (failing && !previous?.failing) {
      this.logger.warn({
        msg: "Telegram cannot deliver to a bot's webhook",
        botId: record.id,
        errorKind: current.kind,
        lastError,
        pendingUpdates: current.pending,
      });
    } else if (!failing && previous?.failing) {
      this.logger.log({ msg: "A bot's webhook works again", botId: record.id, pendingUpdates: current.pending });
    }
    if (drift.length > 0 && drift.join() !== previous?.drift.join()) {
      this.logger.warn({
        msg: "A bot's webhook differs from what the gateway expects",
        botId: record.id,
        drift,
        repair: this.settings.repair,
      });
    } else if (drift.length === 0 && previous && previous.drift.length > 0) {
      this.logger.log({ msg: "A bot's webhook is as the gateway expects again", botId: record.id });
    }
    if (drift.length > 0 && this.settings.repair) await this.repair(record, current);
  }

  private async repair(record: BotRecord, current: BotHealth): Promise<void> {
    const result = await this.admin.syncBot(MONITOR, record);
    if (result.state === 'set') {
      current.repairedAt = Date.now();
      current.drift = [];
      this.logger.log({ msg: "Set a bot's webhook again", botId: record.id, reason: result.reason });
    } else if (result.state === 'error') {
      this.logger.warn({ msg: "Could not set a bot's webhook again", botId: record.id, reason: result.reason });
    }
  }

  /** getWebhookInfo answered 401: the token is revoked when getMe says so too. */
  private async confirmRevoked(record: BotRecord, token: string): Promise<void> {
    try {
      await this.telegram.getMe(token);
      this.metrics.webhookChecks.inc({ result: 'error' });
    } catch (error) {
      if (!isUnauthorized(error)) {
        this.metrics.webhookChecks.inc({ result: 'error' });
        return;
      }
      this.metrics.webhookChecks.inc({ result: 'revoked' });
      this.health.delete(record.id);
      await this.registry.markRevoked(record.id, token);
    }
  }

  /** The gauges of the bots checked last round; none in a process that does not check (they would be stale). */
  private exportGauges(): void {
    const { webhookPendingUpdates, webhookLastErrorAge, webhookLastErrorKind, webhookDrift: drifted } = this.metrics;
    for (const gauge of [webhookPendingUpdates, webhookLastErrorAge, webhookLastErrorKind, drifted]) gauge.reset();
    if (!this.lease.held) return;
    const now = Date.now();
    for (const [bot, health] of this.health) {
      webhookPendingUpdates.set({ bot }, health.pending);
      if (health.lastErrorAt !== null) webhookLastErrorAge.set({ bot }, Math.max(0, (now - health.lastErrorAt) / 1000));
      webhookLastErrorKind.set({ bot, kind: health.kind }, 1);
      drifted.set({ bot }, health.drift.length > 0 ? 1 : 0);
    }
  }

  /** Waits, unless shutdown starts or this process becomes the checker. */
  private sleep(ms: number): Promise<void> {
    if (this.closing || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

function isUnauthorized(error: unknown): boolean {
  return error instanceof TelegramRejectedError && error.telegramStatus === 401;
}
