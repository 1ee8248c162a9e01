import { Module } from '@nestjs/common';
import { AdminRateLimiter } from './admin-rate-limiter';
import { ApiKeyRepository } from './api-key.repository';
import { ApiKeysService } from './api-keys.service';
import { AuditRepository } from './audit.repository';
import { AuditService } from './audit.service';
import { PrincipalService } from './principal.service';
import { QuotaService } from './quota.service';
import { TenantRepository } from './tenant.repository';
import { TenantsService } from './tenants.service';

/** Tenants, their API keys and quotas, and the audit trail. Below bots/: it knows nothing of bots. */
@Module({
  providers: [
    TenantRepository,
    ApiKeyRepository,
    AuditRepository,
    AuditService,
    QuotaService,
    TenantsService,
    ApiKeysService,
    AdminRateLimiter,
    PrincipalService,
  ],
  exports: [AuditService, QuotaService, TenantsService, ApiKeysService, PrincipalService],
})
export class TenantsModule {}
