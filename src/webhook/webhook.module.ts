import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { TenantsModule } from '../tenants/tenants.module';
import { UpdateQueueModule } from '../updates/updates.module';
import { WebhookRoute } from './webhook.route';
import { WebhookService } from './webhook.service';

@Module({ imports: [BotsModule, TenantsModule, UpdateQueueModule], providers: [WebhookService, WebhookRoute] })
export class WebhookModule {}
