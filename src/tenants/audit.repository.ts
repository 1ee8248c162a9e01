import { Injectable } from '@nestjs/common';
import { AuditEntry as AuditRow, Prisma } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';
import { AuditInput, AuditOutcome, AuditQuery, AuditRecord } from './tenant.types';

/** The only place that queries the `audit_log` table. Inserts join the caller's open transaction. */
@Injectable()
export class AuditRepository {
  constructor(private readonly prisma: PrismaService) {}

  async insert(entry: AuditInput): Promise<string> {
    return this.run(async () => {
      const row = await this.prisma.db.auditEntry.create({
        data: {
          actor: entry.actor,
          tenantId: entry.tenantId,
          botId: entry.botId ?? null,
          action: entry.action,
          target: entry.target,
          outcome: entry.outcome,
          detail: entry.detail ? (entry.detail as Prisma.InputJsonObject) : Prisma.DbNull,
        },
        select: { id: true },
      });
      return row.id.toString();
    });
  }

  /** Settles a record written as `started` before an action outside Postgres. */
  async settle(id: string, outcome: AuditOutcome, detail?: Record<string, unknown>): Promise<void> {
    await this.run(() =>
      this.prisma.db.auditEntry.updateMany({
        where: { id: BigInt(id), outcome: 'started' },
        data: { outcome, ...(detail ? { detail: detail as Prisma.InputJsonObject } : {}) },
      }),
    );
  }

  /** Newest first; asks for one more than `limit`. */
  async list(query: AuditQuery): Promise<AuditRecord[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.auditEntry.findMany({
        where: {
          ...(query.tenantId ? { tenantId: query.tenantId } : {}),
          ...(query.botId ? { botId: query.botId } : {}),
          ...(query.action ? { action: query.action } : {}),
          ...(query.since || query.until ? { at: { gte: query.since, lt: query.until } } : {}),
          ...(query.cursor ? { id: { lt: BigInt(query.cursor) } } : {}),
        },
        orderBy: { id: 'desc' },
        take: query.limit + 1,
      });
      return rows.map(toRecord);
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

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id.toString(),
    at: row.at,
    actor: row.actor,
    tenantId: row.tenantId,
    botId: row.botId,
    action: row.action,
    target: row.target,
    outcome: row.outcome as AuditOutcome,
    detail: (row.detail as Record<string, unknown> | null) ?? null,
  };
}
