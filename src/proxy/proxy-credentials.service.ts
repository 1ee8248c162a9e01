import { Inject, Injectable, Logger } from '@nestjs/common';
import { BotAdminService } from '../bots/bot-admin.service';
import { BotRecord } from '../bots/bot.types';
import { ConflictError, DatabaseUnavailableError, NotFoundError } from '../common/errors';
import { serializeError } from '../common/logger';
import { redactSecrets } from '../common/redact';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { AuditService, AuditTarget } from '../tenants/audit.service';
import { Principal } from '../tenants/tenant.types';
import { newCredential, parseCredential, secretMatches } from './proxy-credential';
import { ProxyCredentialRecord, ProxyCredentialRepository } from './proxy-credential.repository';

/**
 * How long a process trusts what it read about a credential. Revocation is not announced: this TTL alone bounds how
 * late an API process refuses a revoked credential (well under the 5 s promised), at the cost of one indexed query
 * per credential and process every 2 s while it is used.
 */
const CREDENTIAL_CACHE_MS = 2_000;
const CREDENTIAL_CACHE_MAX = 10_000;
/** `last_used_at` is written at most this often per credential. */
const LAST_USED_INTERVAL_MS = 60_000;
/** Credentials a bot may have that are not revoked. */
export const MAX_ACTIVE_CREDENTIALS_PER_BOT = 20;

/** A credential as listed: never its secret or hash. */
export interface ProxyCredentialView {
  id: string;
  botId: string;
  name: string | null;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** What creating (or rotating to) a credential answers: the only place the whole credential ever appears. */
export interface CreatedProxyCredential {
  /** Use it as the bot's token against `apiRoot`. */
  credential: string;
  /** The proxy's API root under PUBLIC_URL (any URL that reaches the API process works as well). */
  apiRoot: string;
  proxyCredential: ProxyCredentialView;
}

/** The bot a presented credential stands for. */
export interface ProxyCaller {
  credentialId: string;
  botId: string;
  /** The Telegram bot id the credential starts with: the caller checks it is its bot's. */
  telegramId: string;
}

type Cached = { record: ProxyCredentialRecord | null; at: number };

/**
 * Credentials of the outbound Bot API proxy: created shown once (only SHA-256 of the 256-bit secret is stored),
 * listed, revoked and rotated by the admin API and the CLI through one implementation, each change audited in its
 * transaction; checked in constant time on every proxied call from a short-lived cache. A credential names a bot,
 * not a token: it keeps working after the bot's token was replaced.
 */
@Injectable()
export class ProxyCredentialsService {
  private readonly logger = new Logger(ProxyCredentialsService.name);
  private readonly cache = new Map<string, Cached>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly credentials: ProxyCredentialRepository,
    private readonly bots: BotAdminService,
    private readonly audit: AuditService,
    private readonly uow: UnitOfWork,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  get apiRoot(): string {
    return `${this.config.publicUrl}${this.config.proxy.path}`;
  }

  async create(principal: Principal, botRef: string, input: { name?: string | null }): Promise<CreatedProxyCredential> {
    return this.audit.guard(principal, 'proxy_credential.create', botRef, async () => {
      const bot = await this.bots.find(principal, botRef);
      return this.uow.run(async () => {
        const created = await this.insert(principal, bot, input.name ?? null);
        await this.audit.record(principal, 'proxy_credential.create', targetOf(bot, created.proxyCredential.id), {
          name: created.proxyCredential.name,
        });
        return created;
      });
    });
  }

  async list(principal: Principal, botRef: string): Promise<ProxyCredentialView[]> {
    const bot = await this.bots.find(principal, botRef);
    return (await this.credentials.listByBot(bot.id, 1000)).map(toView);
  }

  /** Revokes a credential: refused by every API process within CREDENTIAL_CACHE_MS (at once by this one). */
  async revoke(principal: Principal, botRef: string, credentialId: string): Promise<ProxyCredentialView> {
    return this.audit.guard(principal, 'proxy_credential.revoke', botRef, async () => {
      const bot = await this.bots.find(principal, botRef);
      const record = await this.uow.run(async () => {
        if (!(await this.credentials.revoke(bot.id, credentialId))) {
          const existing = await this.credentials.getById(credentialId);
          if (!existing || existing.botId !== bot.id) throw credentialNotFound(credentialId);
          return existing; // revoked already: nothing to record
        }
        await this.audit.record(principal, 'proxy_credential.revoke', targetOf(bot, credentialId));
        return (await this.credentials.getById(credentialId))!;
      });
      this.cache.delete(credentialId);
      return toView(record);
    });
  }

  /**
   * Replaces a credential: a new one (same name) and the old one revoked, in one transaction. There is no overlap:
   * for a switch without refused calls, create a second credential, move the consumer to it, then revoke the first.
   */
  async rotate(
    principal: Principal,
    botRef: string,
    credentialId: string,
  ): Promise<CreatedProxyCredential & { revoked: ProxyCredentialView }> {
    return this.audit.guard(principal, 'proxy_credential.rotate', botRef, async () => {
      const bot = await this.bots.find(principal, botRef);
      const result = await this.uow.run(async () => {
        const old = await this.credentials.getById(credentialId);
        if (!old || old.botId !== bot.id) throw credentialNotFound(credentialId);
        if (!(await this.credentials.revoke(bot.id, credentialId))) {
          throw new ConflictError(`Proxy credential ${credentialId} is revoked already`, 'proxy_credential_revoked');
        }
        const created = await this.insert(principal, bot, old.name);
        await this.audit.record(principal, 'proxy_credential.rotate', targetOf(bot, credentialId), {
          replacedBy: created.proxyCredential.id,
        });
        return { ...created, revoked: toView((await this.credentials.getById(credentialId))!) };
      });
      this.cache.delete(credentialId);
      return result;
    });
  }

  /**
   * The bot a presented credential stands for, or null (not a credential, unknown, wrong secret, revoked, or the
   * Telegram id before the colon is not its bot's). Throws DatabaseUnavailableError when Postgres cannot answer and
   * the credential is not in the cache; while it is, credentials this process saw keep working.
   */
  async authenticate(presented: string): Promise<ProxyCaller | null> {
    const parsed = parseCredential(presented);
    if (!parsed) return null;
    const record = await this.load(parsed.id);
    if (!record || !secretMatches(record.secretHash, parsed.secret) || record.revokedAt) return null;
    this.noteUse(record.id);
    return { credentialId: record.id, botId: record.botId, telegramId: parsed.telegramId };
  }

  private async insert(principal: Principal, bot: BotRecord, name: string | null): Promise<CreatedProxyCredential> {
    if ((await this.credentials.countActive(bot.id)) >= MAX_ACTIVE_CREDENTIALS_PER_BOT) {
      throw new ConflictError(
        `A bot may have ${MAX_ACTIVE_CREDENTIALS_PER_BOT} proxy credentials that are not revoked; revoke one first`,
        'proxy_credential_limit',
      );
    }
    const { credential, id, secretHash } = newCredential(bot.telegramId);
    const record = await this.credentials.insert({ id, botId: bot.id, name, secretHash, createdBy: principal.actor });
    // A process may have remembered this id as unknown (ids are random: only by a caller guessing it).
    this.cache.delete(id);
    return { credential, apiRoot: this.apiRoot, proxyCredential: toView(record) };
  }

  private async load(id: string): Promise<ProxyCredentialRecord | null> {
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.at < CREDENTIAL_CACHE_MS) return cached.record;
    let record: ProxyCredentialRecord | null;
    try {
      record = await this.credentials.getById(id);
    } catch (error) {
      // Postgres is away: what this process knew keeps working (a revocation needs Postgres too).
      if (error instanceof DatabaseUnavailableError && cached) return cached.record;
      throw error;
    }
    this.cache.delete(id);
    this.cache.set(id, { record, at: Date.now() });
    if (this.cache.size > CREDENTIAL_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    return record;
  }

  /** Records the use in the background, at most once a minute per credential and process (and in the database). */
  private noteUse(id: string): void {
    const last = this.touched.get(id) ?? 0;
    if (Date.now() - last < LAST_USED_INTERVAL_MS) return;
    this.touched.set(id, Date.now());
    if (this.touched.size > CREDENTIAL_CACHE_MAX) this.touched.delete(this.touched.keys().next().value!);
    this.credentials.touch(id, LAST_USED_INTERVAL_MS).catch((error: unknown) => {
      this.logger.warn({
        msg: 'Could not record the last use of a proxy credential',
        credentialId: id,
        err: serializeError(error),
      });
    });
  }
}

function targetOf(bot: BotRecord, credentialId: string): AuditTarget {
  return { tenantId: bot.tenantId, botId: bot.id, target: `proxy_credential:${credentialId}` };
}

function credentialNotFound(credentialId: string): NotFoundError {
  return new NotFoundError(
    `No proxy credential ${redactSecrets(credentialId).slice(0, 40)}`,
    'proxy_credential_not_found',
  );
}

export function toView(record: ProxyCredentialRecord): ProxyCredentialView {
  return {
    id: record.id,
    botId: record.botId,
    name: record.name,
    createdAt: record.createdAt.toISOString(),
    createdBy: record.createdBy,
    lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
  };
}
