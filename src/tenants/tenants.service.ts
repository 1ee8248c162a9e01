import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../common/errors';
import { isForeignKeyViolation, isUniqueViolation } from '../infra/database/prisma.service';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { AuditService } from './audit.service';
import { EffectiveQuotas, QuotaService } from './quota.service';
import { TenantRepository } from './tenant.repository';
import { DEFAULT_TENANT_ID, Principal, QuotaSettings, TenantRecord } from './tenant.types';

/** Lower-case slug: what the CLI and the API paths name a tenant by. */
export const TENANT_NAME_SHAPE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface TenantView {
  id: string;
  name: string;
  displayName: string | null;
  /** As set by an operator; null: the configured default. */
  quotaSettings: QuotaSettings;
  /** What applies (0: no limit). */
  quotas: EffectiveQuotas;
  createdAt: string;
  updatedAt: string;
}

/** Tenants: created, changed and removed by operators; a tenant key sees its own tenant only. */
@Injectable()
export class TenantsService {
  constructor(
    private readonly tenants: TenantRepository,
    private readonly quotas: QuotaService,
    private readonly audit: AuditService,
    private readonly uow: UnitOfWork,
  ) {}

  async create(
    principal: Principal,
    input: { name: string; displayName?: string | null } & Partial<QuotaSettings>,
  ): Promise<TenantView> {
    operatorOnly(principal);
    const name = input.name.trim().toLowerCase();
    if (!TENANT_NAME_SHAPE.test(name)) {
      throw new BadRequestError(
        'name must be 1-63 of a-z, 0-9 and -, starting with a letter or digit',
        'validation_failed',
      );
    }
    const id = randomUUID();
    try {
      return await this.uow.run(async () => {
        const record = await this.tenants.insert({
          id,
          name,
          displayName: input.displayName ?? null,
          maxBots: input.maxBots ?? null,
          maxPendingUpdatesPerBot: input.maxPendingUpdatesPerBot ?? null,
          adminRequestsPerMinute: input.adminRequestsPerMinute ?? null,
        });
        await this.audit.record(principal, 'tenant.create', { tenantId: id, target: `tenant:${name}` });
        return this.view(record);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`A tenant named ${name} exists already`, 'tenant_exists');
      throw error;
    }
  }

  async list(
    principal: Principal,
    query: { cursor?: string; limit?: number },
  ): Promise<{
    items: TenantView[];
    nextCursor: string | null;
  }> {
    operatorOnly(principal);
    const limit = query.limit ?? 50;
    const rows = await this.tenants.list(query.cursor, limit);
    const items = rows.slice(0, limit).map((row) => this.view(row));
    return { items, nextCursor: rows.length > limit ? items[items.length - 1].name : null };
  }

  async get(principal: Principal, ref: string): Promise<TenantView> {
    return this.view(await this.find(principal, ref));
  }

  /** Removes a tenant and its keys; refused while it owns bots, and for the default tenant. */
  async remove(principal: Principal, ref: string): Promise<{ deleted: true }> {
    operatorOnly(principal);
    const tenant = await this.find(principal, ref);
    if (tenant.id === DEFAULT_TENANT_ID) {
      throw new ConflictError('The default tenant cannot be removed', 'tenant_not_empty');
    }
    try {
      await this.uow.run(async () => {
        if (!(await this.tenants.delete(tenant.id))) throw tenantNotFound(ref);
        await this.audit.record(principal, 'tenant.remove', { tenantId: tenant.id, target: `tenant:${tenant.name}` });
      });
    } catch (error) {
      if (isForeignKeyViolation(error)) {
        throw new ConflictError(`Tenant ${tenant.name} still owns bots; remove them first`, 'tenant_not_empty');
      }
      throw error;
    }
    return { deleted: true };
  }

  /** Sets quotas; a null value returns to the configured default, a missing one is left as it is. */
  async setQuotas(principal: Principal, ref: string, quotas: Partial<QuotaSettings>): Promise<TenantView> {
    operatorOnly(principal);
    const tenant = await this.find(principal, ref);
    const updated = await this.uow.run(async () => {
      const record = await this.tenants.setQuotas(tenant.id, quotas);
      if (!record) throw tenantNotFound(ref);
      await this.audit.record(
        principal,
        'quota.set',
        { tenantId: tenant.id, target: `tenant:${tenant.name}` },
        {
          ...quotas,
        },
      );
      return record;
    });
    this.quotas.forget(updated);
    return this.view(updated);
  }

  /**
   * A tenant by name or id, as the principal may see it: a tenant key finds its own tenant only; any other answers
   * exactly like one that does not exist.
   */
  async find(principal: Principal, ref: string): Promise<TenantRecord> {
    const trimmed = ref.trim();
    const record = UUID_SHAPE.test(trimmed)
      ? await this.tenants.getById(trimmed.toLowerCase())
      : TENANT_NAME_SHAPE.test(trimmed.toLowerCase())
        ? await this.tenants.getByName(trimmed.toLowerCase())
        : null;
    if (!record || (principal.kind === 'tenant' && record.id !== principal.tenantId)) throw tenantNotFound(ref);
    return record;
  }

  /** The tenant with its row locked until the open transaction ends. */
  async lock(tenantId: string): Promise<TenantRecord> {
    await this.tenants.lock(tenantId);
    const record = await this.tenants.getById(tenantId);
    if (!record) throw tenantNotFound(tenantId);
    return record;
  }

  view(record: TenantRecord): TenantView {
    const quotaSettings: QuotaSettings = {
      maxBots: record.maxBots,
      maxPendingUpdatesPerBot: record.maxPendingUpdatesPerBot,
      adminRequestsPerMinute: record.adminRequestsPerMinute,
    };
    return {
      id: record.id,
      name: record.name,
      displayName: record.displayName,
      quotaSettings,
      quotas: this.quotas.effective(quotaSettings),
      createdAt: record.createdAt.toISOString(),
      updatedAt: record.updatedAt.toISOString(),
    };
  }
}

function operatorOnly(principal: Principal): void {
  if (principal.kind !== 'operator') throw new ForbiddenError('Only an operator key may do this', 'operator_only');
}

export function tenantNotFound(ref: string): NotFoundError {
  return new NotFoundError(`No tenant ${ref.slice(0, 80)}`, 'tenant_not_found');
}
