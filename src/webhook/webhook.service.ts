import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BotRegistryService, secretMatches } from '../bots/bot-registry.service';
import { IngressBot } from '../bots/bot.types';
import {
  DatabaseUnavailableError,
  NotFoundError,
  QuotaExceededError,
  ServiceUnavailableError,
  UnauthorizedError,
} from '../common/errors';
import { MetricsService } from '../metrics/metrics.service';
import { QuotaService } from '../tenants/quota.service';
import { EnqueueResult, UpdateProducer } from '../updates/update.producer';
import { parseUpdate } from './update-validation';

@Injectable()
export class WebhookService implements OnModuleInit {
  constructor(
    private readonly registry: BotRegistryService,
    private readonly producer: UpdateProducer,
    private readonly quotas: QuotaService,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit() {
    this.registry.serveWebhooks();
  }

  /** Who is calling: the bot the token in the path belongs to, if the secret header is right. */
  async authenticate(token: string, secretHeader: string | undefined): Promise<IngressBot> {
    let bot: IngressBot | null;
    try {
      bot = await this.registry.findForWebhook(token);
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) {
        // Never a 404 here: Telegram would count it as a failure, but an operator would read it as "unknown".
        throw new ServiceUnavailableError(
          'The bot registry is unavailable; retry later',
          'database_unavailable',
          this.config.webhook.retryAfterSeconds,
          { cause: error },
        );
      }
      throw error;
    }
    if (!bot) throw new NotFoundError('Unknown bot', 'bot_not_found');
    if (!bot.enabled) throw new NotFoundError('Unknown bot', 'bot_disabled');
    // Refused like a disabled bot (Telegram keeps the update and retries it) until the token is replaced.
    if (bot.revoked) throw new NotFoundError('Unknown bot', 'bot_revoked');
    if (!secretMatches(bot, secretHeader)) {
      throw new UnauthorizedError('Missing or wrong X-Telegram-Bot-Api-Secret-Token', 'invalid_secret_token');
    }
    return bot;
  }

  /**
   * Validates the body and stores it durably; only then may the webhook answer 2xx. `json`: the body's text. A bot
   * whose backlog is at its tenant's quota gets QuotaExceededError (429 with Retry-After): Telegram keeps the update
   * and sends it again.
   */
  async accept(bot: IngressBot, body: unknown, json: string | null): Promise<Exclude<EnqueueResult, 'over_quota'>> {
    const update = parseUpdate(body);
    const limit = this.quotas.pendingLimit(bot.tenantId);
    const maxPending = typeof limit === 'number' ? limit : await limit;
    const result = await this.producer.enqueue(bot.id, update, json ?? undefined, maxPending, bot.routes);
    if (result === 'over_quota') {
      this.metrics.quotaRefusals.inc({ reason: 'pending_updates' });
      throw new QuotaExceededError(
        "The bot's backlog is at its quota of updates waiting; retry later",
        'backlog_quota_exceeded',
        this.config.webhook.retryAfterSeconds,
      );
    }
    return result;
  }
}
