import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { AdminAuthGuard } from './admin-auth.guard';
import { AdminBotsController } from './admin-bots.controller';
import { AdminWebhooksController } from './admin-webhooks.controller';

/** The admin REST API under /admin (API process only); every operation is a BotAdminService call. */
@Module({
  imports: [BotsModule],
  controllers: [AdminBotsController, AdminWebhooksController],
  providers: [AdminAuthGuard],
})
export class AdminModule {}
