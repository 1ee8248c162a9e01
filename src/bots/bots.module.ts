import { Module } from '@nestjs/common';
import { FeaturesModule } from '../features/features.module';
import { TelegramModule } from '../telegram/telegram.module';
import { TenantsModule } from '../tenants/tenants.module';
import { AuditQueryService } from './audit-query.service';
import { BotAdminService } from './bot-admin.service';
import { BotRegistryService } from './bot-registry.service';
import { BotChangeBus } from './bot-change.bus';
import { BotRepository } from './bot.repository';
import { RevokedBotsMetrics } from './revoked-bots.metrics';
import { TokenHashIndex } from './token-hash-index';

@Module({
  imports: [TelegramModule, FeaturesModule, TenantsModule],
  providers: [
    BotRepository,
    BotChangeBus,
    TokenHashIndex,
    BotRegistryService,
    BotAdminService,
    RevokedBotsMetrics,
    AuditQueryService,
  ],
  exports: [BotRegistryService, BotAdminService, BotChangeBus, AuditQueryService, FeaturesModule],
})
export class BotsModule {}
