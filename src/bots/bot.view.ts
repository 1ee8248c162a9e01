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
    tenantId: record.tenantId,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}
