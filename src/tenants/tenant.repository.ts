import { Injectable } from '@nestjs/common';
import { Tenant as TenantRow } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';
import { QuotaSettings, TenantRecord } from './tenant.types';

/** The only place that queries the `tenants` table. */
@Injectable()
export class TenantRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insert(row: { id: string; name: string; displayName: string | null } & QuotaSettings): Promise<TenantRecord> {
    return this.run(async () => toRecord(await this.prisma.db.tenant.create({ data: row }))!);
  }

  async getById(id: string): Promise<TenantRecord | null> {
    return this.run(async () => toRecord(await this.prisma.db.tenant.findUnique({ where: { id } })));
  }

  async getByName(name: string): Promise<TenantRecord | null> {
    return this.run(async () => toRecord(await this.prisma.db.tenant.findUnique({ where: { name } })));
  }

  /** Locks the tenant's row until the transaction ends (registrations counted against its bot quota one at a time). */
  async lock(id: string): Promise<void> {
    await this.run(() => this.prisma.db.$queryRaw`SELECT id FROM tenants WHERE id = ${id}::uuid FOR UPDATE`);
  }

  /** A page by name; asks for one more than `limit`. */
  async list(afterName: string | undefined, limit: number): Promise<TenantRecord[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.tenant.findMany({
        where: afterName === undefined ? {} : { name: { gt: afterName } },
        orderBy: { name: 'asc' },
        take: limit + 1,
      });
      return rows.map((row) => toRecord(row)!);
    });
  }

  async setQuotas(id: string, quotas: Partial<QuotaSettings>): Promise<TenantRecord | null> {
    return this.run(async () => {
      const { count } = await this.prisma.db.tenant.updateMany({ where: { id }, data: quotas });
      return count === 0 ? null : this.getById(id);
    });
  }

  /** Deletes the tenant (its keys go with it); refused by the database while it owns bots (see isForeignKeyViolation). */
  async delete(id: string): Promise<boolean> {
    return this.run(async () => (await this.prisma.db.tenant.deleteMany({ where: { id } })).count > 0);
  }

  /** Quotas of many tenants at once (for the webhook's cache). */
  async quotasOf(ids: string[]): Promise<Map<string, QuotaSettings>> {
    return this.run(async () => {
      const rows = await this.prisma.db.tenant.findMany({
        where: { id: { in: ids } },
        select: { id: true, maxBots: true, maxPendingUpdatesPerBot: true, adminRequestsPerMinute: true },
      });
      return new Map(rows.map(({ id, ...quotas }) => [id, quotas]));
    });
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw asDatabaseError(error);
    }
  }
}

function toRecord(row: TenantRow | null): TenantRecord | null {
  if (!row) return null;
  return {
    id: row.id,
    name: row.name,
    displayName: row.displayName,
    maxBots: row.maxBots,
    maxPendingUpdatesPerBot: row.maxPendingUpdatesPerBot,
    adminRequestsPerMinute: row.adminRequestsPerMinute,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
