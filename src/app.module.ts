import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AdminModule } from './admin/admin.module';
import { AllExceptionsFilter } from './common/all-exceptions.filter';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { HealthModule } from './health/health.module';
import { DatabaseModule } from './infra/database/database.module';
import { RedisModule } from './infra/redis/redis.module';
import { MetricsModule } from './metrics/metrics.module';
import { ProxyModule } from './proxy/proxy.module';
import { UpdateQueueModule, UpdateWorkerModule } from './updates/updates.module';
import { WebhookHealthModule } from './webhook-health/webhook-health.module';
import { WebhookModule } from './webhook/webhook.module';

/** Which parts a process runs: `api` (webhook ingress, admin API), `worker` (queue consumers), or both. */
export type AppRole = 'api' | 'worker' | 'all';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, role: AppRole): DynamicModule {
    const api = role !== 'worker';
    const worker = role !== 'api';
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        RedisModule,
        MetricsModule,
        HealthModule,
        UpdateQueueModule,
        ...(api ? [WebhookModule, ProxyModule, AdminModule] : []),
        ...(worker ? [UpdateWorkerModule, WebhookHealthModule] : []),
      ],
      providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
    };
  }
}
