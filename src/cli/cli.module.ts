import { DynamicModule, Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { AppConfig } from '../config/config';
import { DestinationsModule } from '../destinations/destinations.module';
import { ConfigModule } from '../config/config.module';
import { DatabaseModule } from '../infra/database/database.module';
import { RedisModule } from '../infra/redis/redis.module';
import { MetricsModule } from '../metrics/metrics.module';
import { ProxyCredentialsModule } from '../proxy/proxy-credentials.module';
import { DeadLettersAdminModule } from '../dead-letters/dead-letters-admin.module';
import { TenantsModule } from '../tenants/tenants.module';
import { UpdateQueueModule } from '../updates/updates.module';
import { CliProgram } from './cli-command';
import { BotsCommand } from './commands/bots.commands';
import { DestinationsCliCommand } from './commands/destinations.commands';
import { FailedCommand } from './commands/failed.commands';
import { FeaturesCommand } from './commands/features.commands';
import { ProxyCredentialCommand } from './commands/proxy-credential.commands';
import { RotateEncryptionKeyCommand } from './commands/rotate-encryption-key.command';
import { SyncWebhooksCommand } from './commands/sync-webhooks.command';
import { AuditCommand, KeysCommand, QuotasCommand, TenantsCommand } from './commands/tenants.commands';
import {
  DeleteWebhookCommand,
  RotateSecretCommand,
  SetWebhookCommand,
  WebhookInfoCommand,
} from './commands/webhook.commands';

/**
 * Root module of a CLI run: the bot services the admin API uses (so every operation has one implementation),
 * with Postgres and Redis (bot changes are announced to running gateways), and no HTTP server or worker.
 */
@Module({})
export class CliModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CliModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        RedisModule,
        MetricsModule,
        BotsModule,
        TenantsModule,
        UpdateQueueModule,
        DeadLettersAdminModule,
        DestinationsModule,
        ProxyCredentialsModule,
      ],
      providers: [
        CliProgram,
        SetWebhookCommand,
        DeleteWebhookCommand,
        WebhookInfoCommand,
        RotateSecretCommand,
        SyncWebhooksCommand,
        RotateEncryptionKeyCommand,
        FeaturesCommand,
        ...BotsCommand.registerWithSubCommands(),
        ...FailedCommand.registerWithSubCommands(),
        ...DestinationsCliCommand.registerWithSubCommands(),
        ...TenantsCommand.registerWithSubCommands(),
        ...KeysCommand.registerWithSubCommands(),
        ...QuotasCommand.registerWithSubCommands(),
        ...ProxyCredentialCommand.registerWithSubCommands(),
        AuditCommand,
      ],
    };
  }
}
