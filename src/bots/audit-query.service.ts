import { Injectable } from '@nestjs/common';
import { AuditService } from '../tenants/audit.service';
import { TenantsService } from '../tenants/tenants.service';
import { AuditRecord, Principal } from '../tenants/tenant.types';
import { BotAdminService } from './bot-admin.service';

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AuditEntryView extends Omit<AuditRecord, 'at'> {
  at: string;
}

/**
 * Reading the audit trail with bots named as everywhere else. A tenant key reads its own tenant's records only; a
 * bot given by gateway id needs no lookup, so the records of a bot deleted since can still be read.
 */
@Injectable()
export class AuditQueryService {
  constructor(
    private readonly audit: AuditService,
    private readonly bots: BotAdminService,
    private readonly tenants: TenantsService,
  ) {}

  async list(
    principal: Principal,
    query: {
      bot?: string;
      action?: string;
      tenant?: string;
      since?: Date;
      until?: Date;
      cursor?: string;
      limit?: number;
    },
  ): Promise<{ items: AuditEntryView[]; nextCursor: string | null }> {
    const botId =
      query.bot === undefined
        ? undefined
        : UUID_SHAPE.test(query.bot.trim())
          ? query.bot.trim().toLowerCase()
          : (await this.bots.find(principal, query.bot)).id;
    const tenantId = query.tenant === undefined ? undefined : (await this.tenants.find(principal, query.tenant)).id;
    const page = await this.audit.list(principal, {
      botId,
      tenantId,
      action: query.action,
      since: query.since,
      until: query.until,
      cursor: query.cursor,
      limit: query.limit ?? 50,
    });
    return { items: page.items.map((r) => ({ ...r, at: r.at.toISOString() })), nextCursor: page.nextCursor };
  }
}
