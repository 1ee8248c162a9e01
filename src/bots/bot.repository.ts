import { Injectable } from '@nestjs/common';
import type { UserFromGetMe } from 'grammy/types';
import { Bot as BotRow, Prisma } from '../generated/prisma/client';
import { asDatabaseError, PrismaService } from '../infra/database/prisma.service';
import { BotRecord } from './bot.types';

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
}

/** The only place that queries the `bots` table. Infrastructure failures surface as DatabaseUnavailableError. */
@Injectable()
export class BotRepository {
  constructor(private readonly prisma: PrismaService) {}

  async getByTokenHash(tokenHash: Uint8Array): Promise<BotRecord | null> {
    return this.run(async () => toRecord(await this.prisma.bot.findUnique({ where: { tokenHash: bytes(tokenHash) } })));
  }

  async getById(id: string): Promise<BotRecord | null> {
    return this.run(async () => toRecord(await this.prisma.bot.findUnique({ where: { id } })));
  }

  async insert(row: NewBotRow): Promise<BotRecord> {
    return this.run(async () =>
      toRecord(
        await this.prisma.bot.create({
          data: {
            ...row,
            botInfo: toJson(row.botInfo),
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

function bytes(value: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value);
}

function toRecord(row: BotRow | null): BotRecord | null {
  if (!row) return null;
  return {
    id: row.id,
    telegramId: row.telegramId,
    username: row.username,
    firstName: row.firstName,
    name: row.name,
    enabled: row.enabled,
    botInfo: row.botInfo as unknown as UserFromGetMe,
    tokenCiphertext: row.tokenCiphertext,
    tokenKeyId: row.tokenKeyId,
    webhookSecretCiphertext: row.webhookSecretCiphertext,
    previousSecretCiphertext: row.previousSecretCiphertext,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
