import { Module } from '@nestjs/common';
import { TelegramModule } from '../telegram/telegram.module';
import { TenantsModule } from '../tenants/tenants.module';
import { AuditQueryService } from './audit-query.service';
import { BotAdminService } from './bot-admin.service';
import { BotRegistryService } from './bot-registry.service';
import { BotChangeBus } from './bot-change.bus';
import { BotRepository } from './bot.repository';
import { TokenHashIndex } from './token-hash-index';

@Module({
  imports: [TelegramModule, TenantsModule],
  providers: [BotRepository, BotChangeBus, TokenHashIndex, BotRegistryService, BotAdminService, AuditQueryService],
  exports: [BotRegistryService, BotAdminService, AuditQueryService],
})
export class BotsModule {}
