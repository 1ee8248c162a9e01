import { Injectable } from '@nestjs/common';
import { ProxyCredential as ProxyCredentialRow } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';

/** A proxy credential row as the rest of the gateway sees it (only the hash of its secret). */
export interface ProxyCredentialRecord {
  id: string;
  botId: string;
  name: string | null;
  secretHash: Uint8Array;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** The only place that queries the `proxy_credentials` table. Writes join the caller's open transaction. */
@Injectable()
export class ProxyCredentialRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insert(row: {
    id: string;
    botId: string;
    name: string | null;
    secretHash: Uint8Array;
    createdBy: string;
  }): Promise<ProxyCredentialRecord> {
    return this.run(async () =>
      toRecord(
        await this.prisma.db.proxyCredential.create({ data: { ...row, secretHash: new Uint8Array(row.secretHash) } }),
      ),
    );
  }

  async getById(id: string): Promise<ProxyCredentialRecord | null> {
    return this.run(async () => {
      const row = await this.prisma.db.proxyCredential.findUnique({ where: { id } });
      return row && toRecord(row);
    });
  }

  /** A bot's credentials, newest first (revoked ones included). */
  async listByBot(botId: string, limit: number): Promise<ProxyCredentialRecord[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.proxyCredential.findMany({
        where: { botId },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
        take: limit,
      });
      return rows.map(toRecord);
    });
  }

  countActive(botId: string): Promise<number> {
    return this.run(() => this.prisma.db.proxyCredential.count({ where: { botId, revokedAt: null } }));
  }

  /** Marks the credential revoked; false when it is not the bot's or was revoked already. */
  async revoke(botId: string, id: string): Promise<boolean> {
    return this.run(async () => {
      const { count } = await this.prisma.db.proxyCredential.updateMany({
        where: { id, botId, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      return count > 0;
    });
  }

  /** Records a use, at most once per `minIntervalMs` per credential (a conditional update: no lost writes). */
  async touch(id: string, minIntervalMs: number): Promise<void> {
    const before = new Date(Date.now() - minIntervalMs);
    await this.run(() =>
      this.prisma.db.proxyCredential.updateMany({
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

function toRecord(row: ProxyCredentialRow): ProxyCredentialRecord {
  return {
    id: row.id,
    botId: row.botId,
    name: row.name,
    secretHash: row.secretHash,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}
