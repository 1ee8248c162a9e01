import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';

export type WebhookOutcome =
  | 'accepted'
  | 'duplicate'
  | 'unknown_bot'
  | 'disabled_bot'
  | 'revoked_bot'
  | 'bad_secret'
  | 'bad_request'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'forbidden_ip'
  | 'over_quota'
  | 'unavailable';

/** Why a tenant quota refused something (bounded: one label value per quota). */
export type QuotaRefusal = 'bots_per_tenant' | 'pending_updates' | 'admin_requests';

/** What the outbound Bot API proxy did with a call (bounded: no credential, token or bot in labels). */
export type ProxyOutcome = 'forwarded' | 'flood_wait_local' | 'unauthorized' | 'refused' | 'error';

export type FailureKind = 'permanent' | 'transient' | 'rate_limited' | 'unavailable';

/**
 * Prometheus metrics of one process. A registry per instance (not prom-client's global one), so several
 * applications can live in one process (tests). Labels never carry a token; bot ids are the registry's UUIDs.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly webhookRequests = new Counter({
    name: 'tg_gateway_webhook_requests_total',
    help: 'Webhook requests by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly enqueueDuration = new Histogram({
    name: 'tg_gateway_enqueue_duration_seconds',
    help: 'Time to hand an update durably to the queue',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly updatesReceived = new Counter({
    name: 'tg_gateway_updates_received_total',
    help: 'Updates the webhook stored (duplicates excluded), by update kind; kinds the gateway does not know: "other"',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly updatesProcessed = new Counter({
    name: 'tg_gateway_updates_processed_total',
    help: 'Updates the dispatcher handled successfully, by update kind; kinds the gateway does not know: "other"',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly updatesFailed = new Counter({
    name: 'tg_gateway_updates_failed_total',
    help: 'Failed processing attempts by kind (permanent, transient, rate_limited, unavailable)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'tg_gateway_queue_jobs',
    help: 'Updates by state: waiting in a mailbox, active (running), delayed (waiting to retry); read when scraped',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly pausedBots = new Gauge({
    name: 'tg_gateway_bots_in_flood_wait',
    help: "Bots whose updates wait for the end of Telegram's flood control (429 retry_after); read when scraped",
    registers: [this.registry],
  });

  readonly revokedBots = new Gauge({
    name: 'tg_gateway_bots_revoked',
    help: 'Bots whose token Telegram rejects (401), not processed until the token is replaced; read when scraped',
    registers: [this.registry],
  });

  readonly botRevoked = new Gauge({
    name: 'tg_gateway_bot_revoked',
    help: 'Set to 1 for each bot (by gateway id) whose token Telegram rejects; read when scraped',
    labelNames: ['bot'] as const,
    registers: [this.registry],
  });

  readonly webhookChecks = new Counter({
    name: 'tg_gateway_webhook_checks_total',
    help: 'Webhook health checks by result (ok, failing, drift, revoked, error)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly webhookPendingUpdates = new Gauge({
    name: 'tg_gateway_webhook_pending_updates',
    help: 'Updates Telegram holds for a bot (getWebhookInfo), by gateway id; from the process that runs the checks',
    labelNames: ['bot'] as const,
    registers: [this.registry],
  });

  readonly webhookLastErrorAge = new Gauge({
    name: 'tg_gateway_webhook_last_error_age_seconds',
    help: "Age of Telegram's last delivery error for a bot (absent when it has none)",
    labelNames: ['bot'] as const,
    registers: [this.registry],
  });

  readonly webhookLastErrorKind = new Gauge({
    name: 'tg_gateway_webhook_last_error',
    help: "1 for the kind of Telegram's last delivery error for a bot (none, unauthorized, server_error, timeout, …)",
    labelNames: ['bot', 'kind'] as const,
    registers: [this.registry],
  });

  readonly webhookDrift = new Gauge({
    name: 'tg_gateway_webhook_drift',
    help: "1 when a bot's webhook at Telegram differs from what the gateway expects, else 0",
    labelNames: ['bot'] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Gauge({
    name: 'tg_gateway_dead_letters',
    help: 'Updates that failed for good (dead letters); read when scraped',
    registers: [this.registry],
  });

  readonly quotaRefusals = new Counter<'reason'>({
    name: 'tg_gateway_quota_refusals_total',
    help: 'Requests refused by a tenant quota: bots_per_tenant, pending_updates (webhook 429), admin_requests (429)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly destinationDeliveries = new Counter<'destination' | 'outcome'>({
    name: 'tg_gateway_destination_deliveries_total',
    help: 'Delivery attempts to HTTP destinations by destination id and outcome: delivered, failed, dead',
    labelNames: ['destination', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly destinationDuration = new Histogram<'destination'>({
    name: 'tg_gateway_destination_delivery_seconds',
    help: 'Time of one HTTP delivery attempt, until the answer (or the timeout), by destination id',
    labelNames: ['destination'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly destinationBreakerOpen = new Gauge<'destination'>({
    name: 'tg_gateway_destination_breaker_open',
    help:
      '1 for each destination whose deliveries are paused now (circuit breaker open, its Retry-After, or disabled); ' +
      'absent otherwise',
    labelNames: ['destination'] as const,
    registers: [this.registry],
  });

  readonly destinationsDisabled = new Counter<'reason'>({
    name: 'tg_gateway_destinations_disabled_total',
    help: 'Destinations disabled automatically after failing for DESTINATION_DISABLE_AFTER_SECONDS',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly proxyRequests = new Counter<'outcome' | 'method'>({
    name: 'tg_gateway_proxy_requests_total',
    help:
      'Calls to the outbound Bot API proxy by outcome (forwarded to Telegram, flood_wait_local: answered 429 from ' +
      "the bot's flood wait without calling Telegram, unauthorized, refused, error) and Bot API method (well-known " +
      'methods by name, others "other", file downloads "file")',
    labelNames: ['outcome', 'method'] as const,
    registers: [this.registry],
  });

  readonly oldestDeadLetterAge = new Gauge({
    name: 'tg_gateway_oldest_dead_letter_age_seconds',
    help: 'Age of the oldest dead letter, 0 when there is none (read when scraped)',
    registers: [this.registry],
  });

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tg_gateway_' });
  }

  /** Sets up a gauge collector run at scrape time (e.g. queue depth from Redis). */
  onScrape(collect: () => Promise<void>): void {
    this.scrapers.push(collect);
  }

  /**
   * The gauges read from Redis are refreshed at most every METRICS_CACHE_MS, whatever the number of scrapers (several
   * Prometheus servers, or a flood of requests), and by one refresh at a time.
   */
  async render(): Promise<string> {
    if (Date.now() - this.collectedAt >= this.config.metrics.cacheMs) {
      this.collecting ??= Promise.allSettled(this.scrapers.map((collect) => collect())).then(() => {
        this.collectedAt = Date.now();
        this.collecting = undefined;
      });
      await this.collecting;
    }
    return this.registry.metrics();
  }

  private collectedAt = 0;
  private collecting?: Promise<void>;

  get contentType(): string {
    return this.registry.contentType;
  }

  private readonly scrapers: (() => Promise<void>)[] = [];
}
