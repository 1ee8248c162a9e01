import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { UpdateQueueModule } from '../updates/updates.module';
import { AdminAuthGuard, AdminAuthHook } from './admin-auth.guard';
import { AdminBotsController } from './admin-bots.controller';
import { AdminDeadLettersController } from './admin-dead-letters.controller';
import { AdminFeaturesController } from './admin-features.controller';
import { AdminWebhooksController } from './admin-webhooks.controller';

/**
 * The admin REST API under /admin (API process only); every operation is a BotAdminService or DeadLettersService
 * call.
 */
@Module({
  imports: [BotsModule, UpdateQueueModule],
  controllers: [AdminBotsController, AdminFeaturesController, AdminWebhooksController, AdminDeadLettersController],
  providers: [AdminAuthGuard, AdminAuthHook],
})
export class AdminModule {}
