import { Module } from '@nestjs/common';
import { FeaturesModule } from '../features/features.module';
import { TelegramModule } from '../telegram/telegram.module';
import { BotAdminService } from './bot-admin.service';
import { BotRegistryService } from './bot-registry.service';
import { BotChangeBus } from './bot-change.bus';
import { BotRepository } from './bot.repository';
import { RevokedBotsMetrics } from './revoked-bots.metrics';
import { TokenHashIndex } from './token-hash-index';

@Module({
  imports: [TelegramModule, FeaturesModule],
  providers: [BotRepository, BotChangeBus, TokenHashIndex, BotRegistryService, BotAdminService, RevokedBotsMetrics],
  exports: [BotRegistryService, BotAdminService, FeaturesModule],
})
export class BotsModule {}
