import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { TelegramModule } from '../telegram/telegram.module';
import { WebhookHealthMonitor } from './webhook-health.monitor';

/** The webhook health monitor: runs in worker processes, one of them at a time checking (a lease in Redis). */
@Module({ imports: [BotsModule, TelegramModule], providers: [WebhookHealthMonitor] })
export class WebhookHealthModule {}
