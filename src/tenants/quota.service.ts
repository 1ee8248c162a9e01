import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { TenantRepository } from './tenant.repository';
import { QuotaSettings, TenantRecord } from './tenant.types';

/** How long the webhook reuses a tenant's backlog quota: a change reaches every API process within this. */
const QUOTA_CACHE_MS = 5_000;

export interface EffectiveQuotas {
  maxBots: number;
  maxPendingUpdatesPerBot: number;
  adminRequestsPerMinute: number;
}

/** A tenant's quotas: its own settings where an operator set them, else the configured defaults (0: no limit). */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger(QuotaService.name);
  private readonly cached = new Map<string, { quotas: EffectiveQuotas; at: number }>();
  private readonly loading = new Map<string, Promise<EffectiveQuotas>>();

  constructor(
    private readonly tenants: TenantRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  effective(settings: QuotaSettings): EffectiveQuotas {
    const defaults = this.config.quotas;
    return {
      maxBots: settings.maxBots ?? defaults.botsPerTenant,
      maxPendingUpdatesPerBot: settings.maxPendingUpdatesPerBot ?? defaults.pendingUpdatesPerBot,
      adminRequestsPerMinute: settings.adminRequestsPerMinute ?? defaults.adminRequestsPerMinute,
    };
  }

  /**
   * The most updates one bot of the tenant may have waiting (0: no limit), for the webhook: from memory, reloaded
   * at most every 5 s per tenant (so a change reaches every API process within 5 s). While Postgres is away the last
   * known value (or the default) is used, so the webhook keeps working.
   */
  pendingLimit(tenantId: string): number | Promise<number> {
    const quotas = this.of(tenantId);
    return quotas instanceof Promise ? quotas.then((q) => q.maxPendingUpdatesPerBot) : quotas.maxPendingUpdatesPerBot;
  }

  /** Admin API requests per minute of each of the tenant's keys (0: no limit); cached like pendingLimit. */
  async adminRequestsPerMinute(tenantId: string): Promise<number> {
    return (await this.of(tenantId)).adminRequestsPerMinute;
  }

  /** Forgets a tenant's cached quotas in this process (after a change made here). */
  forget(tenant: TenantRecord): void {
    this.cached.delete(tenant.id);
  }

  private of(tenantId: string): EffectiveQuotas | Promise<EffectiveQuotas> {
    const cached = this.cached.get(tenantId);
    if (cached && Date.now() - cached.at < QUOTA_CACHE_MS) return cached.quotas;
    const load = this.loading.get(tenantId) ?? this.load(tenantId, cached?.quotas);
    // A stale value answers at once while the fresh one loads.
    return cached ? cached.quotas : load;
  }

  private load(tenantId: string, fallback: EffectiveQuotas | undefined): Promise<EffectiveQuotas> {
    const defaults = this.effective({ maxBots: null, maxPendingUpdatesPerBot: null, adminRequestsPerMinute: null });
    const load = this.tenants
      .quotasOf([tenantId])
      .then((found) => {
        const settings = found.get(tenantId);
        const quotas = settings ? this.effective(settings) : defaults;
        this.cached.set(tenantId, { quotas, at: Date.now() });
        if (this.cached.size > 100_000) this.cached.delete(this.cached.keys().next().value!);
        return quotas;
      })
      .catch((error: unknown) => {
        this.logger.warn({ msg: 'Cannot read a tenant quota; using the last known one', err: serializeError(error) });
        return fallback ?? defaults;
      })
      .finally(() => this.loading.delete(tenantId));
    this.loading.set(tenantId, load);
    return load;
  }
}
