import { Injectable } from '@nestjs/common';
import { ApiKey as ApiKeyRow } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';
import { ApiKeyRecord, Scope } from './tenant.types';

/** The only place that queries the `api_keys` table. */
@Injectable()
export class ApiKeyRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insert(row: {
    id: string;
    tenantId: string;
    name: string;
    secretHash: Uint8Array;
    scopes: Scope[];
    expiresAt: Date | null;
    createdBy: string;
  }): Promise<ApiKeyRecord> {
    return this.run(async () =>
      toRecord(await this.prisma.db.apiKey.create({ data: { ...row, secretHash: new Uint8Array(row.secretHash) } }))!,
    );
  }

  async getById(id: string): Promise<ApiKeyRecord | null> {
    return this.run(async () => toRecord(await this.prisma.db.apiKey.findUnique({ where: { id } })));
  }

  /** A tenant's keys, newest first; asks for one more than `limit`. */
  async listByTenant(tenantId: string, limit: number): Promise<ApiKeyRecord[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.apiKey.findMany({
        where: { tenantId },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        take: limit,
      });
      return rows.map((row) => toRecord(row)!);
    });
  }

  /** Marks the key revoked; false when it is not the tenant's or was revoked already. */
  async revoke(tenantId: string, id: string): Promise<boolean> {
    return this.run(async () => {
      const { count } = await this.prisma.db.apiKey.updateMany({
        where: { id, tenantId, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      return count > 0;
    });
  }

  /** Records a use, at most once per `minIntervalMs` per key (a conditional update: cheap, and no lost writes). */
  async touch(id: string, minIntervalMs: number): Promise<void> {
    const before = new Date(Date.now() - minIntervalMs);
    await this.run(() =>
      this.prisma.db.apiKey.updateMany({
        where: { id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: before } }] },
        data: { lastUsedAt: new Date() },
      }),
    );
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw asDatabaseError(error);
    }
  }
}

function toRecord(row: ApiKeyRow | null): ApiKeyRecord | null {
  if (!row) return null;
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    secretHash: row.secretHash,
    scopes: row.scopes as Scope[],
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}
