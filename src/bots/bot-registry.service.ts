import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { UserFromGetMe } from 'grammy/types';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { BotFeature } from '../features/feature.types';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { DEFAULT_TENANT_ID } from '../tenants/tenant.types';
import { BotChangeBus } from './bot-change.bus';
import { BotRepository, SealedFields } from './bot.repository';
import { BotRecord, IngressBot, WorkerBot } from './bot.types';
import { evict, VersionedCache } from './versioned-cache';
import { generateWebhookSecret, Keyring, TOKEN_SHAPE, tokenBlindIndex } from './token-crypto';
import { TokenHashIndex } from './token-hash-index';

export interface RegisterBotInput {
  token: string;
  /** The owner; the default tenant when absent. */
  tenantId?: string;
  name?: string | null;
  botInfo: UserFromGetMe;
  /** Checked by the caller; DEFAULT_BOT_FEATURES when absent. */
  features?: BotFeature[];
}

/**
 * The bot registry: stores bots with their token encrypted, and answers the two hot lookups — by token for
 * the webhook, by id for the workers — from bounded in-memory caches.
 *
 * Keeping the caches right: a change made through the gateway is announced over Redis and dropped from every
 * process's caches at once. In case an announcement was lost, every BOT_CACHE_TTL_MS (and as soon as a lost
 * subscription is back) the versions (`updated_at`) of all cached bots are compared with the registry's,
 * 2,000 per query, and the entries that changed or were deleted are dropped. So a cached bot costs no query
 * per request and no query per entry and TTL: with 100,000 bots that is 50 small queries a minute
 * (~0.3 s of CPU), where a refresh per entry and TTL cost ~330 queries and decryptions a second.
 */
@Injectable()
export class BotRegistryService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(BotRegistryService.name);
  private readonly keyring: Keyring;
  private readonly byTokenHash: VersionedCache<IngressBot>;
  private readonly byId: VersionedCache<WorkerBot>;
  private revalidation?: Promise<void>;
  private revalidationTimer?: NodeJS.Timeout;
  /**
   * Blind index of the registered tokens seen on the webhook lately: the HMAC is ~6% of a webhook call's CPU. The
   * API process holds the encryption keys anyway, so keeping the tokens it was sent in memory exposes nothing more.
   */
  private readonly webhookTokenHashes = new Map<string, string>();
  private readonly webhookTokenHashesMax: number;

  constructor(
    private readonly bots: BotRepository,
    private readonly changes: BotChangeBus,
    private readonly tokenHashes: TokenHashIndex,
    private readonly uow: UnitOfWork,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.keyring = new Keyring(config.encryptionKeys);
    changes.onChange((change) => {
      this.byId.invalidate(change.botId);
      for (const hash of change.tokenHashes) this.byTokenHash.invalidate(hash);
    });
    changes.onResync(() => void this.revalidate());
    const { size, negativeSize, negativeTtlMs } = config.botCache;
    this.webhookTokenHashesMax = size + negativeSize;
    this.byTokenHash = new VersionedCache<IngressBot>({
      max: size,
      negativeMax: negativeSize,
      negativeTtlMs,
      load: async (hash) => {
        const record = await this.bots.getByTokenHash(Buffer.from(hash, 'base64'));
        return record && this.toIngressBot(record);
      },
    });
    this.byId = new VersionedCache<WorkerBot>({
      max: size,
      negativeMax: 0,
      negativeTtlMs: 0,
      load: async (id) => {
        const record = await this.bots.getById(id);
        return record && this.toWorkerBot(record);
      },
    });
  }

  onModuleInit() {
    this.revalidationTimer = setInterval(() => void this.revalidate(), this.config.botCache.ttlMs);
    this.revalidationTimer.unref();
  }

  onModuleDestroy() {
    clearInterval(this.revalidationTimer);
  }

  /**
   * Drops the cached bots whose row changed or is gone. When the database cannot be reached, the entries are
   * kept (bots already known keep working through an outage) and the next run tries again. One run at a time.
   */
  revalidate(): Promise<void> {
    this.revalidation ??= this.compareVersions()
      .catch((error: unknown) =>
        this.logger.warn({ msg: 'Cannot check the cached bots against the registry', err: serializeError(error) }),
      )
      .finally(() => (this.revalidation = undefined));
    return this.revalidation;
  }

  private async compareVersions(): Promise<void> {
    const ids = new Set<string>();
    for (const bot of this.byId.values()) ids.add(bot.id);
    for (const bot of this.byTokenHash.values()) ids.add(bot.id);
    if (ids.size === 0) return;
    const versions = await this.bots.versionsOf([...ids]);
    // Entries loaded after the ids were collected were not checked: they are newer than this run anyway.
    const current = (bot: { id: string; version: number }) => !ids.has(bot.id) || versions.get(bot.id) === bot.version;
    const dropped = this.byId.retain(current) + this.byTokenHash.retain(current);
    if (dropped > 0) this.logger.log(`Dropped ${dropped} cached bot(s) that changed in the registry`);
  }

  async register(input: RegisterBotInput): Promise<BotRecord> {
    const id = randomUUID();
    const record = await this.bots.insert({
      id,
      telegramId: BigInt(input.botInfo.id),
      username: input.botInfo.username,
      firstName: input.botInfo.first_name,
      name: input.name ?? null,
      botInfo: input.botInfo,
      tokenCiphertext: this.keyring.encrypt(input.token, 'bot-token', id),
      tokenKeyId: this.keyring.primaryKeyId,
      tokenHash: this.tokenHash(input.token),
      webhookSecretCiphertext: this.keyring.encrypt(generateWebhookSecret(), 'webhook-secret', id),
      features: input.features ?? this.config.features.defaultBotFeatures.map((name) => ({ name })),
      tenantId: input.tenantId ?? DEFAULT_TENANT_ID,
    });
    const hash = this.tokenHash(input.token).toString('base64');
    this.tokenHashes.add(hash);
    // The token may have been looked up (and remembered as unknown) before it was registered; other processes
    // learn the new token hash.
    await this.announce(id, [hash]);
    return record;
  }

  /** Enabled bots in id order, a page at a time (for checks over every bot). */
  listEnabled(after: string | undefined, limit: number): Promise<BotRecord[]> {
    return this.bots.listEnabled(after, limit);
  }

  countEnabled(): Promise<number> {
    return this.bots.countEnabled();
  }

  /** Looks a bot up by the gateway id (UUID), the Telegram bot id (digits), or `@username`. */
  async resolve(ref: string): Promise<BotRecord | null> {
    const trimmed = ref.trim();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(trimmed)) {
      return this.bots.getById(trimmed.toLowerCase());
    }
    if (/^\d{1,20}$/.test(trimmed)) return this.bots.getByTelegramId(BigInt(trimmed));
    if (/^@[A-Za-z0-9_]{1,64}$/.test(trimmed)) return this.bots.getByUsername(trimmed.slice(1));
    return null;
  }

  /**
   * Re-encrypts the row with a new token (same Telegram bot) and its fresh getMe profile; false when the row's
   * secrets changed since `record` was read (the caller reads it again).
   */
  async replaceToken(record: BotRecord, token: string, botInfo: UserFromGetMe): Promise<boolean> {
    const oldHash = this.tokenHash(this.tokenOf(record)).toString('base64');
    const sealed = this.seal(record.id, token, this.webhookSecretOf(record), this.previousSecretOf(record));
    const ok = await this.bots.reseal(record.id, record.secretsVersion, sealed, {
      username: botInfo.username,
      firstName: botInfo.first_name,
      botInfo,
    });
    if (!ok) return false;
    const newHash = Buffer.from(sealed.tokenHash).toString('base64');
    this.tokenHashes.add(newHash);
    await this.announce(record.id, [oldHash, newHash]);
    return true;
  }

  /**
   * Makes `secret` the webhook secret; the current one stays accepted until `previousExpiresAt`, so deliveries
   * Telegram already signed with it are not refused during the switch. False when the row's secrets changed since
   * `record` was read.
   */
  async replaceSecret(record: BotRecord, secret: string, previousExpiresAt: Date | null): Promise<boolean> {
    const previous = previousExpiresAt ? { secret: this.webhookSecretOf(record), expiresAt: previousExpiresAt } : null;
    const sealed = this.seal(record.id, this.tokenOf(record), secret, previous);
    const ok = await this.bots.reseal(record.id, record.secretsVersion, sealed);
    if (ok) await this.announce(record.id, [Buffer.from(sealed.tokenHash).toString('base64')]);
    return ok;
  }

  /**
   * Replaces the bot's feature list (already checked) and tells every process: each worker builds the bot's new
   * composer with its next update. False when the list changed since `record` was read.
   */
  async setFeatures(record: BotRecord, features: BotFeature[]): Promise<boolean> {
    const ok = await this.bots.setFeatures(record.id, record.featuresVersion, features);
    if (ok) await this.announce(record.id, [this.tokenHashOf(record)]);
    return ok;
  }

  /** Re-encrypts a row with the primary key; false when it changed meanwhile (the caller reads it again). */
  async reencrypt(record: BotRecord): Promise<boolean> {
    const sealed = this.seal(
      record.id,
      this.tokenOf(record),
      this.webhookSecretOf(record),
      this.previousSecretOf(record),
    );
    return this.bots.reseal(record.id, record.secretsVersion, sealed);
  }

  get primaryKeyId(): string {
    return this.keyring.primaryKeyId;
  }

  /**
   * Marks the bot revoked because Telegram rejected `token` (401), unless its token changed meanwhile; every process
   * then refuses its webhook and holds its updates until the token is replaced. True when this call marked it.
   */
  async markRevoked(botId: string, token: string): Promise<boolean> {
    const hash = this.tokenHash(token);
    if (!(await this.bots.markRevoked(botId, hash))) return false;
    this.logger.warn({
      msg: 'Telegram rejects the bot token (401): bot marked revoked; its updates wait until the token is replaced',
      botId,
    });
    await this.announce(botId, [hash.toString('base64')]);
    return true;
  }

  /**
   * Tells every process that a bot changed (after an update or a delete); inside a transaction, once it committed,
   * so that no process reloads the bot as it was before.
   */
  async announce(botId: string, tokenHashes?: string[]): Promise<void> {
    await this.uow.afterCommit(() => this.changes.publish({ botId, tokenHashes: tokenHashes ?? [] }));
  }

  /**
   * A bot's destinations changed: its row's version goes up and every process drops its cached copy (the webhook
   * routes by it). Call inside the transaction of the change.
   */
  async routesChanged(record: BotRecord): Promise<void> {
    await this.bots.touch(record.id);
    await this.announce(record.id, [this.tokenHashOf(record)]);
  }

  tokenHashOf(record: BotRecord): string {
    return this.tokenHash(this.tokenOf(record)).toString('base64');
  }

  private previousSecretOf(record: BotRecord): { secret: string; expiresAt: Date } | null {
    if (!record.previousSecretCiphertext || !record.previousSecretExpiresAt) return null;
    if (record.previousSecretExpiresAt.getTime() <= Date.now()) return null;
    return {
      secret: this.keyring.decrypt(record.previousSecretCiphertext, 'webhook-secret', record.id),
      expiresAt: record.previousSecretExpiresAt,
    };
  }

  private seal(
    id: string,
    token: string,
    secret: string,
    previous: { secret: string; expiresAt: Date } | null,
  ): SealedFields {
    return {
      tokenCiphertext: this.keyring.encrypt(token, 'bot-token', id),
      tokenKeyId: this.keyring.primaryKeyId,
      tokenHash: this.tokenHash(token),
      webhookSecretCiphertext: this.keyring.encrypt(secret, 'webhook-secret', id),
      previousSecretCiphertext: previous ? this.keyring.encrypt(previous.secret, 'webhook-secret', id) : null,
      previousSecretExpiresAt: previous?.expiresAt ?? null,
    };
  }

  /** Starts keeping the set of known token hashes that `findForWebhook` needs (API processes). */
  serveWebhooks(): void {
    this.tokenHashes.enable();
  }

  /**
   * The bot a webhook token belongs to, or null when no bot has it. A token that does not look like one, or whose
   * blind index is not among the registered ones, is refused without a query. Throws DatabaseUnavailableError.
   */
  findForWebhook(token: string): Promise<IngressBot | null> {
    const known = this.tokenHashes.current;
    if (!known) return this.tokenHashes.ready().then(() => this.findForWebhook(token));
    let hash = this.webhookTokenHashes.get(token);
    if (hash === undefined) {
      if (!TOKEN_SHAPE.test(token)) return NO_BOT;
      hash = this.tokenHash(token).toString('base64');
      if (!known.has(hash)) return NO_BOT;
      // Only registered tokens are remembered: made-up ones cannot push them out.
      this.webhookTokenHashes.set(token, hash);
      evict(this.webhookTokenHashes, this.webhookTokenHashesMax);
    } else if (!known.has(hash)) {
      return NO_BOT;
    }
    return this.byTokenHash.get(hash);
  }

  /** The bot a queued update belongs to, with its token decrypted. */
  findForWorker(botId: string): Promise<WorkerBot | null> {
    return this.byId.get(botId);
  }

  /** The webhook secret to give Telegram (setWebhook's secret_token). */
  webhookSecretOf(record: BotRecord): string {
    return this.keyring.decrypt(record.webhookSecretCiphertext, 'webhook-secret', record.id);
  }

  tokenOf(record: BotRecord): string {
    return this.keyring.decrypt(record.tokenCiphertext, 'bot-token', record.id);
  }

  private tokenHash(token: string): Buffer {
    return tokenBlindIndex(this.config.tokenHashKey, token);
  }

  private toIngressBot(record: BotRecord): IngressBot {
    const secrets = [{ value: ownBuffer(this.webhookSecretOf(record)), expiresAt: null as number | null }];
    if (record.previousSecretCiphertext && record.previousSecretExpiresAt) {
      const previous = this.keyring.decrypt(record.previousSecretCiphertext, 'webhook-secret', record.id);
      secrets.push({ value: ownBuffer(previous), expiresAt: record.previousSecretExpiresAt.getTime() });
    }
    return {
      id: record.id,
      tenantId: record.tenantId,
      version: record.updatedAt.getTime(),
      enabled: record.enabled,
      revoked: record.revokedAt !== null,
      secrets,
      routes:
        record.destinations && record.destinations.length > 0
          ? {
              features: record.features.length > 0,
              destinations: record.destinations.map((d) => ({
                id: d.id,
                kind: d.kind,
                enabled: d.enabled,
                kinds: d.updateKinds ? new Set(d.updateKinds) : null,
                streamMaxLen: d.streamMaxLen,
              })),
            }
          : undefined,
    };
  }

  private toWorkerBot(record: BotRecord): WorkerBot {
    return {
      id: record.id,
      version: record.updatedAt.getTime(),
      enabled: record.enabled,
      albums: record.albums,
      revoked: record.revokedAt !== null,
      token: this.tokenOf(record),
      botInfo: record.botInfo,
      features: record.features,
      featuresVersion: record.featuresVersion,
    };
  }
}

const NO_BOT: Promise<null> = Promise.resolve(null);

/**
 * A buffer of its own: `Buffer.from` takes small buffers from a shared 8 KB slab, which a long-lived cache entry
 * would keep alive whole (~2.7 KB per cached bot, measured with 20,000 bots).
 */
function ownBuffer(text: string): Buffer {
  const buffer = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  buffer.write(text);
  return buffer;
}

/**
 * Checks the X-Telegram-Bot-Api-Secret-Token header with timingSafeEqual, so the time taken does not reveal how
 * much of a secret matched. Only the length can show, and every secret the gateway generates has the same,
 * publicly known length (43 characters); every accepted secret is compared, so neither does which one matched.
 */
export function secretMatches(bot: IngressBot, header: string | undefined, now = Date.now()): boolean {
  if (header === undefined) return false;
  const candidate = Buffer.from(header);
  let matched = false;
  for (const { value, expiresAt } of bot.secrets) {
    const equal = value.length === candidate.length && timingSafeEqual(value, candidate);
    if (equal && (expiresAt === null || expiresAt > now)) matched = true;
  }
  return matched;
}
