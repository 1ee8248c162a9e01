import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { AdminRateLimiter } from './admin-rate-limiter';
import { ApiKeysService } from './api-keys.service';
import { QuotaService } from './quota.service';
import { Principal } from './tenant.types';

/**
 * Who a bearer key stands for: one of ADMIN_API_KEYS (an operator, named by a fingerprint of the key), a live tenant
 * key, or nobody. Operator keys are compared as digests in constant time, every key compared.
 */
@Injectable()
export class PrincipalService {
  private readonly operatorKeys: { digest: Buffer; actor: string }[];

  constructor(
    private readonly apiKeys: ApiKeysService,
    private readonly quotas: QuotaService,
    private readonly limiter: AdminRateLimiter,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.operatorKeys = config.adminApiKeys.map((key) => {
      const digest = sha256(key);
      return { digest, actor: `operator:${digest.toString('hex').slice(0, 12)}` };
    });
  }

  async resolve(presented: string | undefined): Promise<Principal | null> {
    if (presented === undefined) return null;
    const candidate = sha256(presented);
    let operator: string | undefined;
    for (const key of this.operatorKeys) {
      if (timingSafeEqual(key.digest, candidate)) operator ??= key.actor;
    }
    if (operator) return { kind: 'operator', actor: operator };
    return this.apiKeys.authenticate(presented);
  }

  /** Counts one admin API request of the principal; throws QuotaExceededError past its rate. */
  async admit(principal: Principal): Promise<void> {
    const perMinute =
      principal.kind === 'operator'
        ? this.config.quotas.operatorRequestsPerMinute
        : await this.quotas.adminRequestsPerMinute(principal.tenantId);
    await this.limiter.consume(principal.actor, perMinute);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
