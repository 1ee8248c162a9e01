import type { UserFromGetMe } from 'grammy/types';

/** A registry row as the rest of the gateway sees it (no Prisma types outside the repository). */
export interface BotRecord {
  id: string;
  telegramId: bigint;
  username: string;
  firstName: string;
  name: string | null;
  enabled: boolean;
  botInfo: UserFromGetMe;
  tokenCiphertext: Uint8Array;
  tokenKeyId: string;
  webhookSecretCiphertext: Uint8Array;
  previousSecretCiphertext: Uint8Array | null;
  previousSecretExpiresAt: Date | null;
  /** Bumped by every write of the ciphertexts; such writes are conditional on the version read. */
  secretsVersion: number;
  createdAt: Date;
  updatedAt: Date;
  /** The tenant that owns the bot. */
  tenantId: string;
}

/** What the webhook needs to accept an update: cached per token hash. */
export interface IngressBot {
  id: string;
  /** Whose quotas apply (updates waiting per bot). */
  tenantId: string;
  /** The row's `updated_at` (ms) when it was read: caches compare it with the registry's. */
  version: number;
  enabled: boolean;
  /** The accepted webhook secrets (UTF-8), compared in constant time. */
  secrets: { value: Buffer; expiresAt: number | null }[];
}

/** What a worker needs to run the dispatcher for a bot: cached per bot id. */
export interface WorkerBot {
  id: string;
  version: number;
  enabled: boolean;
  token: string;
  botInfo: UserFromGetMe;
}
