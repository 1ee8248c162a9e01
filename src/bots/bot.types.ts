import type { UserFromGetMe } from 'grammy/types';
import type { DestinationKind, UpdateRoutes } from '../destinations/destination.types';
import type { BotFeature } from '../features/feature.types';

/** A registry row as the rest of the gateway sees it (no Prisma types outside the repository). */
export interface BotRecord {
  id: string;
  telegramId: bigint;
  username: string;
  firstName: string;
  name: string | null;
  enabled: boolean;
  /** Media groups are handed to the handlers as one album (opt-in). */
  albums: boolean;
  botInfo: UserFromGetMe;
  tokenCiphertext: Uint8Array;
  tokenKeyId: string;
  webhookSecretCiphertext: Uint8Array;
  previousSecretCiphertext: Uint8Array | null;
  previousSecretExpiresAt: Date | null;
  /** Bumped by every write of the ciphertexts; such writes are conditional on the version read. */
  secretsVersion: number;
  /** Self-signed certificate (PEM) sent with every setWebhook, or null. */
  webhookCertificate: string | null;
  /** Fixed IPv4 address given to Telegram with every setWebhook, or null. */
  webhookIpAddress: string | null;
  /** When Telegram rejected the token (401); null while it works. Cleared by a token replacement. */
  revokedAt: Date | null;
  /** What set-webhook last asked for; null when not given (Telegram's default or previous setting stands). */
  webhookMaxConnections: number | null;
  webhookAllowedUpdates: string[] | null;
  /** The features the bot runs, in order, with its settings for them. */
  features: BotFeature[];
  /** Bumped by every write of `features`; such writes are conditional on the version read. */
  featuresVersion: number;
  createdAt: Date;
  updatedAt: Date;
  /** The tenant that owns the bot. */
  tenantId: string;
  /** Its destinations, when loaded with it (the webhook's and workers' lookups). */
  destinations?: {
    id: string;
    kind: DestinationKind;
    enabled: boolean;
    updateKinds: string[] | null;
    streamMaxLen: number;
  }[];
}

/** What the webhook needs to accept an update: cached per token hash. */
export interface IngressBot {
  id: string;
  /** Whose quotas apply (updates waiting per bot). */
  tenantId: string;
  /** The row's `updated_at` (ms) when it was read: caches compare it with the registry's. */
  version: number;
  enabled: boolean;
  /** Telegram rejected the token: refused like a disabled bot until the token is replaced. */
  revoked: boolean;
  /** The accepted webhook secrets (UTF-8), compared in constant time. */
  secrets: { value: Buffer; expiresAt: number | null }[];
  /** Where its updates go; undefined: to its own lane only (no destinations). */
  routes?: UpdateRoutes;
}

/** What a worker needs to run the dispatcher for a bot: cached per bot id. */
export interface WorkerBot {
  id: string;
  version: number;
  enabled: boolean;
  albums: boolean;
  /** Telegram rejected the token: its updates wait, like a disabled bot's, until the token is replaced. */
  revoked: boolean;
  token: string;
  botInfo: UserFromGetMe;
  features: BotFeature[];
  featuresVersion: number;
}
