import { Injectable } from '@nestjs/common';
import { withTimeout } from '../infra/database/prisma.service';
import { MetricsService } from '../metrics/metrics.service';
import { BotRepository } from './bot.repository';

/** Bots named one by one in `tg_gateway_bot_revoked`; past that only the count says how many more there are. */
const NAMED_MAX = 1_000;

/** The revoked bots in /metrics (every process with a registry), read from Postgres when scraped. */
@Injectable()
export class RevokedBotsMetrics {
  constructor(bots: BotRepository, metrics: MetricsService) {
    metrics.onScrape(async () => {
      const { ids, count } = await withTimeout(bots.revoked(NAMED_MAX), 1_000);
      metrics.revokedBots.set(count);
      metrics.botRevoked.reset();
      for (const id of ids) metrics.botRevoked.set({ bot: id }, 1);
    });
  }
}
