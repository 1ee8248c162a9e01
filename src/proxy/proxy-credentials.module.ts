import { Module } from '@nestjs/common';
import { BotsModule } from '../bots/bots.module';
import { TenantsModule } from '../tenants/tenants.module';
import { ProxyCredentialRepository } from './proxy-credential.repository';
import { ProxyCredentialsService } from './proxy-credentials.service';

/** Proxy credentials (admin API, CLI and the proxy route): the repository stays inside. */
@Module({
  imports: [BotsModule, TenantsModule],
  providers: [ProxyCredentialRepository, ProxyCredentialsService],
  exports: [ProxyCredentialsService],
})
export class ProxyCredentialsModule {}
