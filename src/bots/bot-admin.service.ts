import { Inject, Injectable, Logger } from '@nestjs/common';
import type { WebhookInfo } from 'grammy/types';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import {
  AppError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  QuotaExceededError,
  UnprocessableError,
} from '../common/errors';
import { redactSecrets } from '../common/redact';
import { isUniqueViolation } from '../infra/database/prisma.service';
import { FeatureCatalog } from '../features/feature-catalog';
import { BotFeature } from '../features/feature.types';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { MetricsService } from '../metrics/metrics.service';
import { TelegramService } from '../telegram/telegram.service';
import { unknownUpdateKinds, unknownUpdateKindsMessage } from '../telegram/update-kinds';
import { AuditService, AuditTarget } from '../tenants/audit.service';
import { destinationKeys } from '../destinations/destination.types';
import { RedisConnections } from '../infra/redis/redis.module';
import { QuotaService } from '../tenants/quota.service';
import { TenantsService } from '../tenants/tenants.service';
import { DEFAULT_TENANT_ID, Principal, tenantScopeOf } from '../tenants/tenant.types';
import { BotRegistryService } from './bot-registry.service';
import { BotRepository } from './bot.repository';
import { BotRecord } from './bot.types';
import { BotView, toBotView } from './bot.view';
import { generateWebhookSecret, TOKEN_SHAPE } from './token-crypto';
import { parseWebhookCertificate, webhookIpAddressProblem } from './webhook-certificate';
import { DRIFT_TEXT, ExpectedWebhook, WebhookDrift, webhookDrift } from './webhook-drift';

/** Conditional writes of a bot's secrets tried before answering 409 concurrent_change. */
const WRITE_ATTEMPTS = 3;

export { TOKEN_SHAPE } from './token-crypto';

export interface WebhookOptions {
  /** Public base URL of the gateway; PUBLIC_URL when absent. */
  url?: string;
  dropPendingUpdates?: boolean;
  maxConnections?: number;
  allowedUpdates?: string[];
  /**
   * A self-signed certificate (PEM) to upload with setWebhook. Kept and sent again by every later setWebhook the
   * gateway makes (Telegram drops a certificate a call leaves out); null removes it; left out keeps the stored one.
   */
  certificate?: string | null;
  /** Fixed IPv4 address for Telegram to post to; null removes it; left out keeps the stored one. */
  ipAddress?: string | null;
}

/** The certificate the gateway uploads with setWebhook (never the key: the gateway is not given one). */
export interface WebhookCertificateView {
  fingerprint256: string;
  subject: string;
  validTo: string;
}

export interface WebhookStatus {
  /** Telegram's URL with the token replaced by `<redacted>`; empty when no webhook is set. */
  url: string;
  expectedUrl: string;
  matchesExpected: boolean;
  /** How Telegram's webhook differs from what the gateway expects (URL, recorded settings, refused deliveries). */
  drift: WebhookDrift[];
  pendingUpdateCount: number;
  lastErrorDate: string | null;
  lastErrorMessage: string | null;
  lastSynchronizationErrorDate: string | null;
  maxConnections: number | null;
  allowedUpdates: string[] | null;
  ipAddress: string | null;
  /** Telegram's `has_custom_certificate`: it checks deliveries against an uploaded (self-signed) certificate. */
  hasCustomCertificate: boolean;
  /** The certificate the gateway uploads with setWebhook, or null (Telegram then checks a CA-signed one). */
  certificate: WebhookCertificateView | null;
  /** The fixed IP address the gateway gives Telegram, or null (Telegram resolves the URL's host). */
  expectedIpAddress: string | null;
}

export type SyncState = 'ok' | 'set' | 'would_set' | 'error';

export interface SyncResult {
  bot: BotView;
  state: SyncState;
  reason: string;
  pendingUpdates: number | null;
  lastError: string | null;
}

/** A bot's feature list with its settings, and the version a conditional write compares. */
export interface BotFeaturesView {
  botId: string;
  version: number;
  features: BotFeature[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/**
 * Actions on bots. The admin REST API and the CLI both call this service, so every operation has one
 * implementation. Results are views (no token, no secret); failures are typed errors with stable codes.
 *
 * Every operation takes the caller's Principal and finds bots through `find`, which is where tenant scoping lives:
 * a tenant key finds its own tenant's bots only, and another tenant's bot — by id, Telegram id or @username —
 * answers exactly like one that does not exist. Every change writes an audit record in the transaction that makes
 * it (or, for a change at Telegram, around it: see AuditService).
 */
@Injectable()
export class BotAdminService {
  private readonly logger = new Logger('Admin');

  constructor(
    private readonly registry: BotRegistryService,
    private readonly bots: BotRepository,
    private readonly telegram: TelegramService,
    private readonly catalog: FeatureCatalog,
    private readonly tenants: TenantsService,
    private readonly quotas: QuotaService,
    private readonly audit: AuditService,
    private readonly uow: UnitOfWork,
    private readonly metrics: MetricsService,
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Registers a bot for a tenant: the caller's own with a tenant key, else `tenant` (name or id) or the default
   * tenant. Counted against the tenant's bot quota under a lock of the tenant's row, so concurrent registrations
   * cannot exceed it. A token registered already — to whichever tenant — is refused without saying whose it is.
   * `features` are checked first; DEFAULT_BOT_FEATURES when absent.
   */
  async register(
    principal: Principal,
    input: { token: string; name?: string | null; tenant?: string; features?: BotFeature[] },
  ): Promise<BotView> {
    return this.audit.guard(principal, 'bot.register', 'bot', async () => {
      const token = checkTokenShape(input.token);
      const features = input.features && this.catalog.check(input.features);
      const tenantId =
        input.tenant !== undefined
          ? (await this.tenants.find(principal, input.tenant)).id
          : (tenantScopeOf(principal) ?? DEFAULT_TENANT_ID);
      const botInfo = await this.telegram.getMe(token);
      try {
        const record = await this.uow.run(async () => {
          const tenant = await this.tenants.lock(tenantId);
          if (await this.bots.getByTelegramId(BigInt(botInfo.id))) throw alreadyRegistered(botInfo.username);
          const max = this.quotas.effective(tenant).maxBots;
          if (max > 0 && (await this.bots.countByTenant(tenantId)) >= max) {
            this.metrics.quotaRefusals.inc({ reason: 'bots_per_tenant' });
            throw new QuotaExceededError(
              `This tenant has reached its quota of ${max} bots`,
              'bot_quota_exceeded',
              undefined,
              409,
            );
          }
          const created = await this.registry.register({
            token,
            name: input.name ?? null,
            botInfo,
            tenantId,
            features,
          });
          await this.audit.record(principal, 'bot.register', targetOf(created), { username: created.username });
          return created;
        });
        this.logger.log({ msg: 'Bot registered', botId: record.id, username: record.username });
        return toBotView(record);
      } catch (error) {
        if (isUniqueViolation(error)) throw alreadyRegistered(botInfo.username);
        throw error;
      }
    });
  }

  async list(
    principal: Principal,
    query: { cursor?: string; limit?: number; enabled?: boolean },
  ): Promise<Page<BotView>> {
    const limit = query.limit ?? 50;
    const tenantId = tenantScopeOf(principal) ?? undefined;
    const after = query.cursor ? await this.bots.getById(query.cursor) : undefined;
    if (after === null || (after && tenantId !== undefined && after.tenantId !== tenantId)) {
      throw new BadRequestError('cursor does not name a bot (use nextCursor of the previous page)', 'invalid_cursor');
    }
    const rows = await this.bots.list({ after, limit, enabled: query.enabled, tenantId });
    const items = rows.slice(0, limit).map(toBotView);
    return { items, nextCursor: rows.length > limit ? items[items.length - 1].id : null };
  }

  async get(principal: Principal, ref: string): Promise<BotView> {
    return toBotView(await this.find(principal, ref));
  }

  async update(
    principal: Principal,
    ref: string,
    changes: { name?: string | null; enabled?: boolean; albums?: boolean },
  ): Promise<BotView> {
    return this.audit.guard(principal, 'bot.update', ref, async () => {
      const record = await this.find(principal, ref);
      const updated = await this.uow.run(async () => {
        const row = await this.bots.update(record.id, changes);
        if (!row) throw notFound(ref);
        await this.audit.record(principal, 'bot.update', targetOf(record), { ...changes });
        await this.registry.announce(record.id, [this.registry.tokenHashOf(record)]);
        return row;
      });
      this.logger.log({ msg: 'Bot updated', botId: record.id, changes });
      return toBotView(updated);
    });
  }

  async features(principal: Principal, ref: string): Promise<BotFeaturesView> {
    return featuresView(await this.find(principal, ref));
  }

  /** Replaces the bot's feature list (order included); reaches every worker at once. */
  setFeatures(principal: Principal, ref: string, features: BotFeature[]): Promise<BotFeaturesView> {
    const checked = this.catalog.check(features);
    return this.changeFeatures(principal, ref, () => checked);
  }

  /** Sets the list by names, in this order; features the bot keeps keep their settings. */
  setFeatureNames(principal: Principal, ref: string, names: string[]): Promise<BotFeaturesView> {
    return this.changeFeatures(principal, ref, (current) =>
      names.map((name) => current.find((feature) => feature.name === name) ?? { name }),
    );
  }

  /**
   * Adds a feature at the end of the list, or changes the settings of one the bot has (in place). Without `settings`
   * a feature the bot has keeps its own.
   */
  putFeature(
    principal: Principal,
    ref: string,
    name: string,
    settings?: Record<string, unknown>,
  ): Promise<BotFeaturesView> {
    return this.changeFeatures(principal, ref, (current) => {
      const entry: BotFeature = settings === undefined ? { name } : { name, settings };
      const at = current.findIndex((feature) => feature.name === name);
      if (at === -1) return [...current, entry];
      if (settings === undefined) return current;
      return current.map((feature, i) => (i === at ? entry : feature));
    });
  }

  removeFeature(principal: Principal, ref: string, name: string): Promise<BotFeaturesView> {
    return this.changeFeatures(principal, ref, (current, record) => {
      if (!current.some((feature) => feature.name === name)) {
        throw new NotFoundError(`Bot @${record.username} does not have the feature "${name}"`, 'feature_not_enabled');
      }
      return current.filter((feature) => feature.name !== name);
    });
  }

  /**
   * Writes `change(current list)`, checked, conditional on the list being as read: when another change came first,
   * the bot is read again and the change applied to what it is now.
   */
  private changeFeatures(
    principal: Principal,
    ref: string,
    change: (current: BotFeature[], record: BotRecord) => BotFeature[],
  ): Promise<BotFeaturesView> {
    return this.audit.guard(principal, 'bot.features', ref, async () => {
      let record = await this.find(principal, ref);
      for (let attempt = 1; ; attempt++) {
        const features = this.catalog.check(change(record.features, record));
        const current = record;
        const written = await this.uow.run(async () => {
          const ok = await this.registry.setFeatures(current, features);
          if (ok) {
            await this.audit.record(principal, 'bot.features', targetOf(current), {
              features: features.map((f) => f.name),
            });
          }
          return ok;
        });
        if (written) break;
        if (attempt === WRITE_ATTEMPTS) throw changedMeanwhile();
        record = await this.find(principal, record.id);
      }
      const updated = await this.find(principal, record.id);
      this.logger.log({ msg: 'Bot features set', botId: record.id, features: updated.features.map((f) => f.name) });
      return featuresView(updated);
    });
  }

  /** Deletes the bot; its webhook at Telegram is removed first, best effort, and the outcome reported. */
  async remove(
    principal: Principal,
    ref: string,
  ): Promise<{ deleted: true; webhookRemoved: boolean; webhookError: string | null }> {
    return this.audit.guard(principal, 'bot.remove', ref, async () => {
      const record = await this.find(principal, ref);
      let webhookError: string | null = null;
      try {
        await this.telegram.deleteWebhook(this.registry.tokenOf(record));
      } catch (error) {
        webhookError = error instanceof Error ? redactSecrets(error.message) : 'unknown error';
      }
      const hash = this.registry.tokenHashOf(record);
      await this.uow.run(async () => {
        if (!(await this.bots.delete(record.id))) throw notFound(ref);
        await this.audit.record(principal, 'bot.remove', targetOf(record), {
          username: record.username,
          webhookRemoved: webhookError === null,
        });
        await this.registry.announce(record.id, [hash]);
      });
      // Its destinations went with the row; their streams, logs and breaker keys in Redis go now (best effort).
      const keys = (record.destinations ?? []).flatMap((d) => destinationKeys(this.config.redisPrefix, d.id));
      if (keys.length > 0) await this.redis.general.del(...keys).catch(() => undefined);
      this.logger.log({ msg: 'Bot deleted', botId: record.id, webhookRemoved: webhookError === null });
      return { deleted: true as const, webhookRemoved: webhookError === null, webhookError };
    });
  }

  /**
   * Replaces a revoked token; the new one must belong to the same Telegram bot. The write is conditional on the
   * bot's secrets being as read: when another change came first (a new secret, a re-encryption), the bot is read
   * again and the new token written over that change, never the secret read before it.
   */
  async replaceToken(principal: Principal, ref: string, newToken: string): Promise<BotView> {
    return this.audit.guard(principal, 'bot.token.replace', ref, async () => {
      const token = checkTokenShape(newToken);
      let record = await this.find(principal, ref);
      const botInfo = await this.telegram.getMe(token);
      if (BigInt(botInfo.id) !== record.telegramId) {
        throw new UnprocessableError(
          `The new token belongs to Telegram bot ${botInfo.id} (@${botInfo.username}), not ${record.telegramId}`,
          'token_bot_mismatch',
        );
      }
      let oldToken = this.registry.tokenOf(record);
      const write = (current: BotRecord) =>
        this.uow.run(async () => {
          const ok = await this.registry.replaceToken(current, token, botInfo);
          if (ok) await this.audit.record(principal, 'bot.token.replace', targetOf(current));
          return ok;
        });
      for (let attempt = 1; !(await write(record)); attempt++) {
        if (attempt === WRITE_ATTEMPTS) throw changedMeanwhile();
        record = await this.find(principal, record.id);
        oldToken = this.registry.tokenOf(record);
      }
      this.logger.log({ msg: 'Bot token replaced', botId: record.id });
      await this.moveWebhookToToken(principal, record.id, oldToken, token);
      return this.get(principal, record.id);
    });
  }

  /**
   * The webhook URL carries the token, so after a token change Telegram would keep posting to the old URL (now a
   * 404). A webhook that points at the old token is set again with the new one, keeping its other settings.
   * Best effort: the token change stands either way, and `set-webhook` repairs a failure.
   */
  private async moveWebhookToToken(
    principal: Principal,
    botId: string,
    oldToken: string,
    newToken: string,
  ): Promise<void> {
    try {
      const info = await this.telegram.getWebhookInfo(newToken);
      if (!info.url?.includes(oldToken)) return;
      const record = await this.find(principal, botId);
      await this.telegram.setWebhook(newToken, {
        url: info.url.split(oldToken).join(newToken),
        secretToken: this.registry.webhookSecretOf(record),
        maxConnections: info.max_connections,
        allowedUpdates: info.allowed_updates,
        ...endpointOf(record),
      });
      this.logger.log({ msg: 'Webhook moved to the new token', botId });
    } catch (error) {
      this.logger.warn({
        msg: 'Could not move the webhook to the new token; run set-webhook for this bot',
        botId,
        reason: error instanceof Error ? redactSecrets(error.message) : 'unknown error',
      });
    }
  }

  async setWebhook(principal: Principal, ref: string, options: WebhookOptions = {}): Promise<WebhookStatus> {
    return this.audit.guard(principal, 'webhook.set', ref, async () => {
      const unknown = unknownUpdateKinds(options.allowedUpdates ?? []);
      if (unknown.length > 0) {
        throw new BadRequestError(`allowedUpdates: ${unknownUpdateKindsMessage(unknown)}`, 'invalid_allowed_updates');
      }
      // Checked before anything else, so a bad certificate or address changes nothing.
      const certificate =
        options.certificate === undefined || options.certificate === null
          ? options.certificate
          : parseWebhookCertificate(options.certificate).pem;
      const ipAddress =
        options.ipAddress === undefined || options.ipAddress === null ? options.ipAddress : checkIp(options.ipAddress);
      const record = await this.find(principal, ref);
      const token = this.registry.tokenOf(record);
      const endpoint = {
        certificate: certificate === undefined ? record.webhookCertificate : certificate,
        ipAddress: ipAddress === undefined ? record.webhookIpAddress : ipAddress,
      };
      await this.audit.around(
        principal,
        'webhook.set',
        targetOf(record),
        () =>
          this.telegram.setWebhook(token, {
            url: this.webhookUrl(token, options.url),
            secretToken: this.registry.webhookSecretOf(record),
            dropPendingUpdates: options.dropPendingUpdates,
            maxConnections: options.maxConnections,
            allowedUpdates: options.allowedUpdates,
            ...endpoint,
          }),
        () => ({
          customUrl: options.url !== undefined,
          dropPendingUpdates: options.dropPendingUpdates ?? false,
          customCertificate: endpoint.certificate !== null,
          fixedIpAddress: endpoint.ipAddress !== null,
        }),
      );
      // Stored once Telegram took it, so that later calls (rotation, token change, sync) send the same again.
      if (endpoint.certificate !== record.webhookCertificate || endpoint.ipAddress !== record.webhookIpAddress) {
        if (!(await this.bots.setWebhookEndpoint(record.id, endpoint))) throw notFound(ref);
      }
      // What was asked for is what the health monitor and sync-webhooks expect from now on.
      await this.bots.recordWebhookSettings(record.id, {
        maxConnections: options.maxConnections,
        allowedUpdates: options.allowedUpdates,
      });
      this.logger.log({
        msg: 'Webhook set',
        botId: record.id,
        customCertificate: endpoint.certificate !== null,
        fixedIpAddress: endpoint.ipAddress !== null,
      });
      return this.webhookStatus(await this.find(principal, record.id), token, options.url);
    });
  }

  async deleteWebhook(
    principal: Principal,
    ref: string,
    options: { dropPendingUpdates?: boolean } = {},
  ): Promise<WebhookStatus> {
    return this.audit.guard(principal, 'webhook.delete', ref, async () => {
      const record = await this.find(principal, ref);
      const token = this.registry.tokenOf(record);
      await this.audit.around(principal, 'webhook.delete', targetOf(record), () =>
        this.telegram.deleteWebhook(token, options.dropPendingUpdates),
      );
      this.logger.log({ msg: 'Webhook deleted', botId: record.id });
      return this.webhookStatus(record, token);
    });
  }

  async webhookInfo(principal: Principal, ref: string): Promise<WebhookStatus> {
    const record = await this.find(principal, ref);
    return this.webhookStatus(record, this.registry.tokenOf(record));
  }

  /**
   * A new webhook secret. It is stored first (the gateway accepts both secrets from then on), then given to
   * Telegram; the old one stays valid for WEBHOOK_SECRET_OVERLAP_SECONDS. When Telegram refuses, the old secret
   * is restored, so the bot is never left with a secret Telegram does not know.
   *
   * The write is conditional on the bot's secrets being as read: when another change came first (a new token, a
   * re-encryption), the rotation starts again from the bot as it is now, so it never writes back an old token.
   */
  async rotateSecret(
    principal: Principal,
    ref: string,
  ): Promise<{ bot: BotView; previousSecretValidUntil: string; webhookUpdated: boolean }> {
    return this.audit.guard(principal, 'secret.rotate', ref, async () => {
      let record = await this.find(principal, ref);
      let token: string;
      let info: WebhookInfo;
      let validUntil: Date;
      for (let attempt = 1; ; attempt++) {
        token = this.registry.tokenOf(record);
        info = await this.telegram.getWebhookInfo(token);
        validUntil = new Date(Date.now() + this.config.webhook.secretOverlapSeconds * 1000);
        const current = record;
        const written = await this.uow.run(async () => {
          const ok = await this.registry.replaceSecret(current, generateWebhookSecret(), validUntil);
          if (ok) await this.audit.record(principal, 'secret.rotate', targetOf(current));
          return ok;
        });
        if (written) break;
        if (attempt === WRITE_ATTEMPTS) throw changedMeanwhile();
        record = await this.find(principal, record.id);
      }
      const rotated = await this.find(principal, record.id);
      let webhookUpdated = false;
      if (info.url) {
        try {
          await this.telegram.setWebhook(token, {
            url: info.url,
            secretToken: this.registry.webhookSecretOf(rotated),
            maxConnections: info.max_connections,
            allowedUpdates: info.allowed_updates,
            ...endpointOf(rotated),
          });
          webhookUpdated = true;
        } catch (error) {
          // Conditional too: a change made meanwhile (e.g. a rotation that did reach Telegram) is not undone.
          const restored = await this.uow.run(async () => {
            const ok = await this.registry.replaceSecret(rotated, this.registry.webhookSecretOf(record), null);
            if (ok) await this.audit.record(principal, 'secret.restore', targetOf(rotated));
            return ok;
          });
          if (!restored) {
            this.logger.warn({
              msg: 'Could not restore the previous webhook secret: the bot changed',
              botId: record.id,
            });
          }
          throw error;
        }
      }
      this.logger.log({ msg: 'Webhook secret rotated', botId: record.id, webhookUpdated });
      return { bot: toBotView(rotated), previousSecretValidUntil: validUntil.toISOString(), webhookUpdated };
    });
  }

  /**
   * Compares every enabled bot's webhook at Telegram with what the gateway expects and sets it again where it
   * drifted: a different or missing URL, or Telegram reporting that the gateway refused its deliveries (401,
   * a secret Telegram no longer matches; getWebhookInfo never shows the secret itself).
   */
  async syncWebhooks(
    principal: Principal,
    options: { dryRun?: boolean; url?: string; batchSize?: number },
    onResult?: (result: SyncResult, index: number, total: number) => void,
  ): Promise<SyncResult[]> {
    const results: SyncResult[] = [];
    // Counted once, for progress lines only; bots enabled while the sync runs just raise it as they come.
    const total = onResult ? await this.bots.countEnabled() : 0;
    let after: string | undefined;
    for (;;) {
      const batch = await this.bots.listEnabled(after, options.batchSize ?? 100);
      if (batch.length === 0) break;
      after = batch[batch.length - 1].id;
      for (const record of batch) {
        const result = await this.syncOne(principal, record, options);
        results.push(result);
        onResult?.(result, results.length, Math.max(total, results.length));
      }
    }
    return results;
  }

  /**
   * Re-encrypts every token and secret with the primary key, in batches. Each row is rewritten only if it did not
   * change meanwhile, so the command can be interrupted and run again: it resumes with the rows still on an
   * old key. Afterwards the old keys can leave TOKEN_ENCRYPTION_KEYS.
   */
  async rotateEncryptionKey(
    principal: Principal,
    options: { batchSize?: number },
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ reencrypted: number; primaryKeyId: string }> {
    const primary = this.registry.primaryKeyId;
    const total = await this.bots.countSealedWithOtherKey(primary);
    let done = 0;
    for (;;) {
      const batch = await this.bots.listSealedWithOtherKey(primary, options.batchSize ?? 100);
      if (batch.length === 0) break;
      for (const record of batch) {
        if (await this.registry.reencrypt(record)) done++;
      }
      onProgress?.(done, Math.max(total, done));
    }
    await this.audit.record(
      principal,
      'keys.reencrypt',
      { tenantId: null, target: `encryption-key:${primary}` },
      { reencrypted: done },
    );
    this.logger.log({ msg: 'Tokens re-encrypted', count: done, primaryKeyId: primary });
    return { reencrypted: done, primaryKeyId: primary };
  }

  /**
   * The sync of one bot (what `syncWebhooks` does for each, and the health monitor's repair, as `principal`): sets
   * the webhook again when it drifted, with the settings set-webhook recorded (else those Telegram has).
   */
  async syncBot(
    principal: Principal,
    record: BotRecord,
    options: { dryRun?: boolean; url?: string } = {},
  ): Promise<SyncResult> {
    return this.syncOne(principal, record, options);
  }

  /** What the gateway expects of a bot's webhook at Telegram. */
  expectedWebhook(record: BotRecord, token: string, baseUrl?: string): ExpectedWebhook {
    return {
      url: this.webhookUrl(token, baseUrl),
      maxConnections: record.webhookMaxConnections,
      allowedUpdates: record.webhookAllowedUpdates,
      customCertificate: record.webhookCertificate !== null,
      ipAddress: record.webhookIpAddress,
    };
  }

  private async syncOne(
    principal: Principal,
    record: BotRecord,
    options: { dryRun?: boolean; url?: string },
  ): Promise<SyncResult> {
    const bot = toBotView(record);
    if (record.revokedAt) {
      // Telegram would only answer 401 again: the token must be replaced first.
      return { bot, state: 'error', reason: 'token revoked (replace it first)', pendingUpdates: null, lastError: null };
    }
    try {
      const token = this.registry.tokenOf(record);
      const info = await this.telegram.getWebhookInfo(token);
      const expected = this.expectedWebhook(record, token, options.url);
      const lastError = info.last_error_message ? redactSecrets(info.last_error_message) : null;
      const drift = webhookDrift(info, expected, true);
      const reason = drift.length === 0 ? 'up to date' : drift.map((d) => DRIFT_TEXT[d]).join(', ');
      const base = { bot, pendingUpdates: info.pending_update_count, lastError };
      if (drift.length === 0) return { ...base, state: 'ok', reason };
      if (options.dryRun) return { ...base, state: 'would_set', reason };
      await this.audit.around(
        principal,
        'webhook.set',
        targetOf(record),
        () =>
          this.telegram.setWebhook(token, {
            url: expected.url,
            secretToken: this.registry.webhookSecretOf(record),
            maxConnections: expected.maxConnections ?? info.max_connections,
            allowedUpdates: expected.allowedUpdates ?? info.allowed_updates,
            ...endpointOf(record),
          }),
        () => ({ sync: true, reason }),
      );
      return { ...base, state: 'set', reason };
    } catch (error) {
      const message = error instanceof AppError ? error.message : 'unexpected error';
      return { bot, state: 'error', reason: redactSecrets(message), pendingUpdates: null, lastError: null };
    }
  }

  private async webhookStatus(record: BotRecord, token: string, baseUrl?: string): Promise<WebhookStatus> {
    const info: WebhookInfo = await this.telegram.getWebhookInfo(token);
    const expected = this.expectedWebhook(record, token, baseUrl);
    const certificate = record.webhookCertificate ? certificateView(record.webhookCertificate) : null;
    return {
      url: redactSecrets((info.url ?? '').split(token).join('<redacted>')),
      expectedUrl: redactSecrets(expected.url.split(token).join('<redacted>')),
      matchesExpected: info.url === expected.url && (certificate === null || info.has_custom_certificate),
      drift: webhookDrift(info, expected, true),
      pendingUpdateCount: info.pending_update_count,
      lastErrorDate: info.last_error_date ? new Date(info.last_error_date * 1000).toISOString() : null,
      lastErrorMessage: info.last_error_message ? redactSecrets(info.last_error_message) : null,
      lastSynchronizationErrorDate: info.last_synchronization_error_date
        ? new Date(info.last_synchronization_error_date * 1000).toISOString()
        : null,
      maxConnections: info.max_connections ?? null,
      allowedUpdates: info.allowed_updates ?? null,
      ipAddress: info.ip_address ?? null,
      hasCustomCertificate: info.has_custom_certificate,
      certificate,
      expectedIpAddress: record.webhookIpAddress,
    };
  }

  private webhookUrl(token: string, baseUrl?: string): string {
    const base = (baseUrl ?? this.config.publicUrl).replace(/\/+$/, '');
    return `${base}/webhook/${token}`;
  }

  /**
   * The one bot lookup of every operation: by gateway id, Telegram id or @username, within the principal's tenant.
   * Another tenant's bot is `bot_not_found` with the same message as a bot that does not exist.
   */
  async find(principal: Principal, ref: string): Promise<BotRecord> {
    const record = await this.registry.resolve(ref);
    const scope = tenantScopeOf(principal);
    if (!record || (scope !== null && record.tenantId !== scope)) throw notFound(ref);
    return record;
  }

  /** The ids of the bots a principal may see: null for all (an operator). */
  async visibleBotIds(principal: Principal): Promise<Set<string> | null> {
    const scope = tenantScopeOf(principal);
    return scope === null ? null : new Set(await this.bots.idsOfTenant(scope));
  }
}

function targetOf(record: BotRecord): AuditTarget {
  return { tenantId: record.tenantId, botId: record.id, target: `bot:@${record.username}` };
}

function featuresView(record: BotRecord): BotFeaturesView {
  return { botId: record.id, version: record.featuresVersion, features: record.features };
}

function checkTokenShape(token: string): string {
  const trimmed = token.trim();
  if (!TOKEN_SHAPE.test(trimmed)) {
    throw new BadRequestError(
      'token does not look like a Telegram bot token (<digits>:<35 characters>)',
      'invalid_token',
    );
  }
  return trimmed;
}

/** What every setWebhook of the gateway sends for this bot beyond URL and secret. */
function endpointOf(record: BotRecord): { certificate: string | null; ipAddress: string | null } {
  return { certificate: record.webhookCertificate, ipAddress: record.webhookIpAddress };
}

function certificateView(pem: string): WebhookCertificateView {
  // A stored certificate may have expired since; it is still shown, with its date.
  const { fingerprint256, subject, validTo } = parseWebhookCertificate(pem, new Date(0));
  return { fingerprint256, subject, validTo };
}

function checkIp(value: string): string {
  const problem = webhookIpAddressProblem(value);
  if (problem) throw new BadRequestError(`ipAddress ${problem}`, 'invalid_ip_address');
  return value.trim();
}

function notFound(ref: string): NotFoundError {
  return new NotFoundError(`No bot ${redactSecrets(ref).slice(0, 80)}`, 'bot_not_found');
}

function alreadyRegistered(username: string): ConflictError {
  return new ConflictError(`Bot @${username} is already registered`, 'bot_already_registered');
}

function changedMeanwhile(): ConflictError {
  return new ConflictError('The bot changed while this request ran; try again', 'concurrent_change');
}
