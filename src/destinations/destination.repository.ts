import { Injectable } from '@nestjs/common';
import { Destination as DestinationRow, Prisma } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';
import { DestinationKind, DestinationRecord } from './destination.types';

export interface NewDestinationRow {
  id: string;
  botId: string;
  kind: DestinationKind;
  name: string | null;
  url: string | null;
  updateKinds: string[] | null;
  secretCiphertext: Uint8Array | null;
  streamMaxLen: number | null;
}

export type DestinationChanges = Partial<
  Pick<
    DestinationRecord,
    | 'name'
    | 'url'
    | 'updateKinds'
    | 'streamMaxLen'
    | 'enabled'
    | 'disabledReason'
    | 'disabledAt'
    | 'secretCiphertext'
    | 'previousSecretCiphertext'
    | 'previousSecretExpiresAt'
  >
>;

/** Most destinations per bot. */
export const MAX_DESTINATIONS_PER_BOT = 20;

/** The only place that queries the `destinations` table. Infrastructure failures surface as DatabaseUnavailableError. */
@Injectable()
export class DestinationRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(row: NewDestinationRow): Promise<DestinationRecord> {
    return this.run(async () =>
      toRecord(
        await this.prisma.db.destination.create({
          data: {
            ...row,
            updateKinds: row.updateKinds ?? Prisma.DbNull,
            secretCiphertext: row.secretCiphertext ? Buffer.from(row.secretCiphertext) : null,
          },
        }),
      ),
    );
  }

  async listOfBot(botId: string): Promise<DestinationRecord[]> {
    return this.run(async () =>
      (await this.prisma.db.destination.findMany({ where: { botId }, orderBy: { createdAt: 'asc' } })).map(toRecord),
    );
  }

  async countOfBot(botId: string): Promise<number> {
    return this.run(() => this.prisma.db.destination.count({ where: { botId } }));
  }

  async get(id: string): Promise<DestinationRecord | null> {
    return this.run(async () => {
      const row = await this.prisma.db.destination.findUnique({ where: { id } });
      return row && toRecord(row);
    });
  }

  /** Applies the changes; null when the destination is gone. */
  async update(id: string, changes: DestinationChanges): Promise<DestinationRecord | null> {
    return this.run(async () => {
      const { updateKinds, secretCiphertext, previousSecretCiphertext, ...rest } = changes;
      const data: Prisma.DestinationUpdateManyMutationInput = { ...rest };
      if (updateKinds !== undefined) data.updateKinds = updateKinds ?? Prisma.DbNull;
      if (secretCiphertext !== undefined) data.secretCiphertext = secretCiphertext && Buffer.from(secretCiphertext);
      if (previousSecretCiphertext !== undefined)
        data.previousSecretCiphertext = previousSecretCiphertext && Buffer.from(previousSecretCiphertext);
      const { count } = await this.prisma.db.destination.updateMany({ where: { id }, data });
      return count === 0 ? null : this.get(id);
    });
  }

  /** Destinations with a signing secret, in id order, a page at a time (re-encryption after a key rotation). */
  async pageWithSecrets(afterId: string | undefined, limit: number): Promise<DestinationRecord[]> {
    return this.run(async () =>
      (
        await this.prisma.db.destination.findMany({
          where: { secretCiphertext: { not: null }, ...(afterId ? { id: { gt: afterId } } : {}) },
          orderBy: { id: 'asc' },
          take: limit,
        })
      ).map(toRecord),
    );
  }

  /** Disables it unless it is disabled already (several workers may find it failing at once): true when this did. */
  async disableIfEnabled(id: string, reason: string): Promise<boolean> {
    return this.run(async () => {
      const { count } = await this.prisma.db.destination.updateMany({
        where: { id, enabled: true },
        data: { enabled: false, disabledReason: reason, disabledAt: new Date() },
      });
      return count === 1;
    });
  }

  /** Which of these ids still name a destination. */
  async existing(ids: string[]): Promise<Set<string>> {
    return this.run(
      async () =>
        new Set(
          (await this.prisma.db.destination.findMany({ where: { id: { in: ids } }, select: { id: true } })).map(
            (row) => row.id,
          ),
        ),
    );
  }

  async delete(id: string): Promise<boolean> {
    return this.run(async () => (await this.prisma.db.destination.deleteMany({ where: { id } })).count > 0);
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw asDatabaseError(error);
    }
  }
}

function toRecord(row: DestinationRow): DestinationRecord {
  return {
    id: row.id,
    botId: row.botId,
    kind: row.kind as DestinationKind,
    name: row.name,
    url: row.url,
    updateKinds: Array.isArray(row.updateKinds) ? (row.updateKinds as string[]) : null,
    secretCiphertext: row.secretCiphertext,
    previousSecretCiphertext: row.previousSecretCiphertext,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    streamMaxLen: row.streamMaxLen,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    disabledAt: row.disabledAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
