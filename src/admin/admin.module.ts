import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { DestinationsModule } from '../destinations/destinations.module';
import { DeadLettersAdminModule } from '../dead-letters/dead-letters-admin.module';
import { ProxyCredentialsModule } from '../proxy/proxy-credentials.module';
import { TenantsModule } from '../tenants/tenants.module';
import { AdminAuditController } from './admin-audit.controller';
import { AdminAuthGuard, AdminAuthHook } from './admin-auth.guard';
import { AdminBotsController } from './admin-bots.controller';
import { AdminDeadLettersController } from './admin-dead-letters.controller';
import { AdminDestinationsController } from './admin-destinations.controller';
import { AdminFeaturesController } from './admin-features.controller';
import { AdminProxyCredentialsController } from './admin-proxy-credentials.controller';
import { AdminTenantsController } from './admin-tenants.controller';
import { AdminWebhooksController } from './admin-webhooks.controller';

/**
 * The admin REST API under /admin (API process only). Every route declares who may call it with `@Access` (none:
 * operator-only) and gets the caller with `@Caller()`; bot-scoped operations go through BotAdminService, whose bot
 * lookup keeps a tenant key to its own tenant.
 */
@Module({
  imports: [BotsModule, TenantsModule, DeadLettersAdminModule, DestinationsModule, ProxyCredentialsModule],
  controllers: [
    AdminBotsController,
    AdminFeaturesController,
    AdminWebhooksController,
    AdminProxyCredentialsController,
    AdminDeadLettersController,
    AdminDestinationsController,
    AdminTenantsController,
    AdminAuditController,
  ],
  providers: [AdminAuthGuard, AdminAuthHook],
})
export class AdminModule {}
