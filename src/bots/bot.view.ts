import { BotRecord } from './bot.types';

/** A bot as operators see it (API responses, CLI output). Never a token or a secret. */
export interface BotView {
  id: string;
  telegramId: string;
  username: string;
  /** The display name given by the operator, or the bot's first name on Telegram. */
  name: string;
  firstName: string;
  enabled: boolean;
  /** Media groups reach the handlers as one album. */
  albums: boolean;
  /** Telegram rejected the token (401): nothing is processed until the token is replaced. */
  revoked: boolean;
  revokedAt: string | null;
  /** The names of the features it runs, in order (settings: the bot's features endpoint). */
  features: string[];
  /** The tenant that owns the bot. */
  tenantId: string;
  createdAt: string;
  updatedAt: string;
}

export function toBotView(record: BotRecord): BotView {
  return {
    id: record.id,
    telegramId: record.telegramId.toString(),
    username: record.username,
    name: record.name ?? record.firstName,
    firstName: record.firstName,
    enabled: record.enabled,
    albums: record.albums,
    revoked: record.revokedAt !== null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
    features: record.features.map((feature) => feature.name),
    tenantId: record.tenantId,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}
