import { Injectable } from '@nestjs/common';
import type { UserFromGetMe } from 'grammy/types';
import { Bot as BotRow, Prisma } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';
import { BotFeature } from '../features/feature.types';
import { DestinationKind } from '../destinations/destination.types';
import { BotRecord } from './bot.types';
import { FINGERPRINT_PREFIX_BYTES, TokenHashFingerprint } from './known-token-hashes';

export interface NewBotRow {
  id: string;
  telegramId: bigint;
  username: string;
  firstName: string;
  name: string | null;
  botInfo: UserFromGetMe;
  tokenCiphertext: Uint8Array;
  tokenKeyId: string;
  tokenHash: Uint8Array;
  webhookSecretCiphertext: Uint8Array;
  features: BotFeature[];
  tenantId: string;
}

/** Every ciphertext of a row, written together with the primary key (so `tokenKeyId` names the row's key). */
export interface SealedFields {
  tokenCiphertext: Uint8Array;
  tokenKeyId: string;
  tokenHash: Uint8Array;
  webhookSecretCiphertext: Uint8Array;
  previousSecretCiphertext: Uint8Array | null;
  previousSecretExpiresAt: Date | null;
}

export interface BotProfile {
  username: string;
  firstName: string;
  botInfo: UserFromGetMe;
}

export interface ListBotsQuery {
  /** The last bot of the previous page. */
  after?: { id: string; createdAt: Date };
  limit: number;
  enabled?: boolean;
  /** Only this tenant's bots. */
  tenantId?: string;
}

/** Ids per query when checking cached bots against the registry: small enough that decoding the answer holds the
 * event loop for a few milliseconds only. */
const VERSION_QUERY_CHUNK = 2_000;

/** The only place that queries the `bots` table. Infrastructure failures surface as DatabaseUnavailableError. */
@Injectable()
export class BotRepository {
  constructor(private readonly prisma: PrismaService) {}

  async getByTokenHash(tokenHash: Uint8Array): Promise<BotRecord | null> {
    return this.run(async () =>
      toRecord(await this.prisma.db.bot.findUnique({ where: { tokenHash: bytes(tokenHash) }, include: WITH_ROUTES })),
    );
  }

  /** `updated_at` (ms) of each of these bots that still exists. */
  async versionsOf(ids: string[]): Promise<Map<string, number>> {
    return this.run(async () => {
      const versions = new Map<string, number>();
      for (let i = 0; i < ids.length; i += VERSION_QUERY_CHUNK) {
        // Raw: one array parameter instead of one per id, and half the CPU of findMany for the same rows.
        const rows = await this.prisma.$queryRaw<{ id: string; version: number }[]>`
          SELECT id::text AS id, (extract(epoch FROM updated_at) * 1000)::float8 AS version
          FROM bots WHERE id = ANY(${ids.slice(i, i + VERSION_QUERY_CHUNK)}::uuid[])`;
        for (const row of rows) versions.set(row.id, Math.round(row.version));
      }
      return versions;
    });
  }

  /** The token blind index (base64) of every bot, `limit` bots at a time in id order. */
  async tokenHashPage(afterId: string | undefined, limit: number): Promise<{ id: string; tokenHash: string }[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.bot.findMany({
        select: { id: true, tokenHash: true },
        where: afterId ? { id: { gt: afterId } } : {},
        orderBy: { id: 'asc' },
        take: limit,
      });
      return rows.map((row) => ({ id: row.id, tokenHash: Buffer.from(row.tokenHash).toString('base64') }));
    });
  }

  /** The token blind index (base64) of one bot, or null when it is gone. */
  async tokenHashOf(id: string): Promise<string | null> {
    return this.run(async () => {
      const row = await this.prisma.db.bot.findUnique({ select: { tokenHash: true }, where: { id } });
      return row && Buffer.from(row.tokenHash).toString('base64');
    });
  }

  /** Count and sum of hash prefixes of all token blind indexes (see KnownTokenHashes), in one pass of the table. */
  async tokenHashFingerprint(): Promise<TokenHashFingerprint> {
    return this.run(async () => {
      const [row] = await this.prisma.$queryRaw<{ count: number; sum: string }[]>`
        SELECT count(*)::int AS count,
               coalesce(sum(('x' || encode(substring(token_hash FROM 1 FOR ${FINGERPRINT_PREFIX_BYTES}::int), 'hex'))
                 ::bit(48)::bigint), 0)::text AS sum
        FROM bots`;
      return { count: row.count, sum: BigInt(row.sum) };
    });
  }

  async getById(id: string): Promise<BotRecord | null> {
    return this.run(async () => toRecord(await this.prisma.db.bot.findUnique({ where: { id }, include: WITH_ROUTES })));
  }

  async getByTelegramId(telegramId: bigint): Promise<BotRecord | null> {
    return this.run(async () => toRecord(await this.prisma.db.bot.findUnique({ where: { telegramId } })));
  }

  async getByUsername(username: string): Promise<BotRecord | null> {
    return this.run(async () =>
      // A stored lower-case column with a unique index: `mode: 'insensitive'` would be an ILIKE, where `_` matches
      // any character.
      toRecord(await this.prisma.db.bot.findUnique({ where: { usernameLower: username.toLowerCase() } })),
    );
  }

  /** A page in creation order; asks for one more row than `limit` so the caller knows whether more follow. */
  async list(query: ListBotsQuery): Promise<BotRecord[]> {
    return this.run(async () => {
      // Keyset pagination rather than Prisma's `cursor`, which applies the filter to the cursor row too: a bot
      // disabled between two pages of `enabled: true` would make the next page come back empty.
      const { after } = query;
      const rows = await this.prisma.db.bot.findMany({
        where: {
          ...(query.tenantId === undefined ? {} : { tenantId: query.tenantId }),
          ...(query.enabled === undefined ? {} : { enabled: query.enabled }),
          ...(after
            ? { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }
            : {}),
        },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: query.limit + 1,
      });
      return rows.map((row) => toRecord(row)!);
    });
  }

  async update(
    id: string,
    data: { name?: string | null; enabled?: boolean; albums?: boolean },
  ): Promise<BotRecord | null> {
    return this.run(async () => {
      const { count } = await this.prisma.db.bot.updateMany({ where: { id }, data });
      return count === 0 ? null : this.getById(id);
    });
  }

  /** Bumps the row's version, so that every process's cached copy reloads (its destinations changed). */
  async touch(id: string): Promise<void> {
    await this.run(() => this.prisma.db.bot.updateMany({ where: { id }, data: { updatedAt: new Date() } }));
  }

  /** What setWebhook is given beyond the URL and the secret (certificate, fixed IP address). */
  async setWebhookEndpoint(
    id: string,
    endpoint: { certificate: string | null; ipAddress: string | null },
  ): Promise<boolean> {
    return this.run(async () => {
      const data = { webhookCertificate: endpoint.certificate, webhookIpAddress: endpoint.ipAddress };
      return (await this.prisma.bot.updateMany({ where: { id }, data })).count > 0;
    });
  }

  /**
   * Replaces the bot's feature list, provided it is still at `expectedVersion` (the `featuresVersion` the caller
   * read): false when another write came first, so no change is lost. Bumps `updated_at`, which caches compare.
   */
  async setFeatures(id: string, expectedVersion: number, features: BotFeature[]): Promise<boolean> {
    return this.run(async () => {
      const { count } = await this.prisma.bot.updateMany({
        where: { id, featuresVersion: expectedVersion },
        data: { features: toJsonArray(features), featuresVersion: { increment: 1 } },
      });
      return count > 0;
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.run(async () => (await this.prisma.db.bot.deleteMany({ where: { id } })).count > 0);
  }

  /**
   * Replaces the row's ciphertexts (and, with a new token, its profile), provided they are still at
   * `expectedVersion` (the `secretsVersion` the caller read): any concurrent write of them — a new token, a new
   * secret, a re-encryption — makes this a no-op (false) instead of a lost update.
   */
  async reseal(id: string, expectedVersion: number, fields: SealedFields, profile?: BotProfile): Promise<boolean> {
    return this.run(async () => {
      const { count } = await this.prisma.db.bot.updateMany({
        where: { id, secretsVersion: expectedVersion },
        data: {
          secretsVersion: { increment: 1 },
          tokenCiphertext: bytes(fields.tokenCiphertext),
          tokenKeyId: fields.tokenKeyId,
          tokenHash: bytes(fields.tokenHash),
          webhookSecretCiphertext: bytes(fields.webhookSecretCiphertext),
          previousSecretCiphertext: fields.previousSecretCiphertext ? bytes(fields.previousSecretCiphertext) : null,
          previousSecretExpiresAt: fields.previousSecretExpiresAt,
          ...(profile
            ? {
                // A new token: whatever Telegram said about the old one no longer holds.
                revokedAt: null,
                username: profile.username,
                usernameLower: profile.username.toLowerCase(),
                firstName: profile.firstName,
                botInfo: toJson(profile.botInfo),
              }
            : {}),
        },
      });
      return count > 0;
    });
  }

  /**
   * Marks the bot revoked, provided its token is still the one Telegram rejected (`tokenHash`) and it is not marked
   * yet: a 401 that arrives after the token was replaced changes nothing. True when this call marked it.
   */
  async markRevoked(id: string, tokenHash: Uint8Array): Promise<boolean> {
    return this.run(async () => {
      const { count } = await this.prisma.bot.updateMany({
        where: { id, tokenHash: bytes(tokenHash), revokedAt: null },
        data: { revokedAt: new Date() },
      });
      return count > 0;
    });
  }

  /** The ids of the revoked bots (at most `limit`), and how many there are. */
  async revoked(limit: number): Promise<{ ids: string[]; count: number }> {
    return this.run(async () => {
      const where = { revokedAt: { not: null } };
      const [rows, count] = await Promise.all([
        this.prisma.bot.findMany({ select: { id: true }, where, orderBy: { id: 'asc' }, take: limit }),
        this.prisma.bot.count({ where }),
      ]);
      return { ids: rows.map((row) => row.id), count };
    });
  }

  /**
   * Records the webhook settings set-webhook asked for, as Telegram applies them: max_connections when not given is
   * Telegram's default (stored as null: not checked), allowed_updates when not given stays as it was.
   */
  async recordWebhookSettings(
    id: string,
    settings: { maxConnections?: number; allowedUpdates?: string[] },
  ): Promise<void> {
    await this.run(() =>
      this.prisma.bot.updateMany({
        where: { id },
        data: {
          webhookMaxConnections: settings.maxConnections ?? null,
          ...(settings.allowedUpdates !== undefined ? { webhookAllowedUpdates: settings.allowedUpdates } : {}),
        },
      }),
    );
  }

  /** Bots whose ciphertexts are not written with `keyId`, in id order (for re-encryption in batches). */
  async listSealedWithOtherKey(keyId: string, limit: number): Promise<BotRecord[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.bot.findMany({
        where: { tokenKeyId: { not: keyId } },
        orderBy: { id: 'asc' },
        take: limit,
      });
      return rows.map((row) => toRecord(row)!);
    });
  }

  async countSealedWithOtherKey(keyId: string): Promise<number> {
    return this.run(() => this.prisma.db.bot.count({ where: { tokenKeyId: { not: keyId } } }));
  }

  async countByTenant(tenantId: string): Promise<number> {
    return this.run(() => this.prisma.db.bot.count({ where: { tenantId } }));
  }

  /** The ids of a tenant's bots. */
  async idsOfTenant(tenantId: string): Promise<string[]> {
    return this.run(async () =>
      (await this.prisma.db.bot.findMany({ where: { tenantId }, select: { id: true } })).map((row) => row.id),
    );
  }

  async countEnabled(): Promise<number> {
    return this.run(() => this.prisma.db.bot.count({ where: { enabled: true } }));
  }

  /** Enabled bots in id order, a page at a time. */
  async listEnabled(after: string | undefined, limit: number): Promise<BotRecord[]> {
    return this.run(async () => {
      const rows = await this.prisma.db.bot.findMany({
        where: { enabled: true, ...(after ? { id: { gt: after } } : {}) },
        orderBy: { id: 'asc' },
        take: limit,
      });
      return rows.map((row) => toRecord(row)!);
    });
  }

  async insert(row: NewBotRow): Promise<BotRecord> {
    return this.run(async () =>
      toRecord(
        await this.prisma.db.bot.create({
          data: {
            ...row,
            usernameLower: row.username.toLowerCase(),
            botInfo: toJson(row.botInfo),
            features: toJsonArray(row.features),
            tokenCiphertext: bytes(row.tokenCiphertext),
            tokenHash: bytes(row.tokenHash),
            webhookSecretCiphertext: bytes(row.webhookSecretCiphertext),
          },
        }),
      )!,
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

function toJson(value: object): Prisma.InputJsonObject {
  return Object.fromEntries<Prisma.InputJsonValue>(Object.entries(value));
}

function toJsonArray(features: BotFeature[]): Prisma.InputJsonArray {
  return features.map((feature) => toJson(feature));
}

function bytes(value: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value);
}

/** The destinations of a bot, as the webhook routes updates to them (loaded with the bot). */
const WITH_ROUTES = {
  destinations: {
    select: { id: true, kind: true, enabled: true, updateKinds: true, streamMaxLen: true },
    orderBy: { createdAt: 'asc' },
  },
} satisfies Prisma.BotInclude;

type RouteRow = {
  id: string;
  kind: string;
  enabled: boolean;
  updateKinds: Prisma.JsonValue;
  streamMaxLen: number | null;
};

function toRecord(row: (BotRow & { destinations?: RouteRow[] }) | null): BotRecord | null {
  if (!row) return null;
  return {
    destinations: row.destinations?.map((d) => ({
      id: d.id,
      kind: d.kind as DestinationKind,
      enabled: d.enabled,
      updateKinds: Array.isArray(d.updateKinds) ? (d.updateKinds as string[]) : null,
      streamMaxLen: d.streamMaxLen ?? 0,
    })),
    id: row.id,
    telegramId: row.telegramId,
    username: row.username,
    firstName: row.firstName,
    name: row.name,
    enabled: row.enabled,
    albums: row.albums,
    botInfo: row.botInfo as unknown as UserFromGetMe,
    tokenCiphertext: row.tokenCiphertext,
    tokenKeyId: row.tokenKeyId,
    webhookSecretCiphertext: row.webhookSecretCiphertext,
    previousSecretCiphertext: row.previousSecretCiphertext,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    secretsVersion: row.secretsVersion,
    webhookCertificate: row.webhookCertificate,
    webhookIpAddress: row.webhookIpAddress,
    revokedAt: row.revokedAt,
    webhookMaxConnections: row.webhookMaxConnections,
    webhookAllowedUpdates: Array.isArray(row.webhookAllowedUpdates) ? (row.webhookAllowedUpdates as string[]) : null,
    features: row.features as unknown as BotFeature[],
    featuresVersion: row.featuresVersion,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    tenantId: row.tenantId,
  };
}
