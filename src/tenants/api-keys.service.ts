import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BadRequestError, ForbiddenError, NotFoundError } from '../common/errors';
import { serializeError } from '../common/logger';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { withTimeout } from '../infra/database/prisma.service';
import { RedisConnections } from '../infra/redis/redis.module';
import { ApiKeyRepository } from './api-key.repository';
import { AuditService } from './audit.service';
import { TenantsService } from './tenants.service';
import { ApiKeyRecord, Principal, Scope, SCOPES } from './tenant.types';

/** `tgw_<16 hex: the key id, not secret>_<43 base64url: 32 random bytes>`. */
const KEY_SHAPE = /^tgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/**
 * How long a process trusts what it read about a key. A revocation is also announced over Redis and dropped at once;
 * this bounds how late a process that missed the announcement can be (well under the 5 s promised).
 */
const KEY_CACHE_MS = 2_000;
const KEY_CACHE_MAX = 10_000;
/** `last_used_at` is written at most this often per key. */
const LAST_USED_INTERVAL_MS = 60_000;

/** A key as listed: never its secret or hash. */
export interface ApiKeyView {
  id: string;
  tenantId: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

type CachedKey = { record: ApiKeyRecord | null; at: number };

/**
 * Tenant API keys: created shown once (only SHA-256 of the random secret is stored: the secret has 256 bits of
 * entropy, so a plain hash cannot be searched), checked in constant time, cached briefly, revoked everywhere within
 * KEY_CACHE_MS at worst (a Redis announcement drops them at once).
 */
@Injectable()
export class ApiKeysService implements OnModuleInit {
  private readonly logger = new Logger(ApiKeysService.name);
  private readonly cache = new Map<string, CachedKey>();
  private readonly touched = new Map<string, number>();
  private readonly channel: string;
  private subscriber?: Redis;

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly tenants: TenantsService,
    private readonly audit: AuditService,
    private readonly uow: UnitOfWork,
    private readonly redis: RedisConnections,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.channel = `${config.redisPrefix}:api-key-changes`;
  }

  onModuleInit() {
    this.subscriber = this.redis.forSubscriber('api-key-changes');
    this.subscriber.on('message', (channel: string, keyId: string) => {
      if (channel === this.channel) this.drop(keyId);
    });
    // Announcements made while the subscription was down are lost: forget everything once it is back.
    let lost = false;
    this.subscriber.on('close', () => (lost = true));
    this.subscriber.on('ready', () => {
      if (lost) this.cache.clear();
      lost = false;
    });
    this.subscriber.subscribe(this.channel).catch(() => undefined);
  }

  /** The principal a presented bearer key stands for, or null (unknown, wrong secret, revoked, expired). */
  async authenticate(presented: string): Promise<Principal | null> {
    const match = KEY_SHAPE.exec(presented);
    if (!match) return null;
    const [, id, secret] = match;
    const record = await this.load(id);
    if (!record) return null;
    const digest = createHash('sha256').update(secret, 'utf8').digest();
    const stored = Buffer.from(record.secretHash);
    if (stored.length !== digest.length || !timingSafeEqual(stored, digest)) return null;
    if (record.revokedAt || (record.expiresAt && record.expiresAt.getTime() <= Date.now())) return null;
    this.noteUse(id);
    return { kind: 'tenant', actor: `key:${id}`, tenantId: record.tenantId, keyId: id, scopes: record.scopes };
  }

  /** Creates a key of a tenant; the answer is the only place the whole key ever appears. */
  async create(
    principal: Principal,
    tenantRef: string,
    input: { name: string; scopes: Scope[]; expiresAt?: Date | null },
  ): Promise<{ key: string; apiKey: ApiKeyView }> {
    const scopes = [...new Set(input.scopes)];
    if (scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s))) {
      throw new BadRequestError(`scopes must be some of ${SCOPES.join(', ')}`, 'validation_failed');
    }
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) {
      throw new BadRequestError('expiresAt must be in the future', 'validation_failed');
    }
    const tenant = await this.tenants.find(principal, tenantRef);
    if (principal.kind === 'tenant' && scopes.some((scope) => !principal.scopes.includes(scope))) {
      throw new ForbiddenError('A key cannot create a key with scopes it does not have', 'insufficient_scope');
    }
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record = await this.uow.run(async () => {
      const created = await this.keys.insert({
        id,
        tenantId: tenant.id,
        name: input.name,
        secretHash: createHash('sha256').update(secret, 'utf8').digest(),
        scopes,
        expiresAt: input.expiresAt ?? null,
        createdBy: principal.actor,
      });
      await this.audit.record(
        principal,
        'key.create',
        { tenantId: tenant.id, target: `key:${id}` },
        { scopes, expiresAt: input.expiresAt?.toISOString() ?? null },
      );
      return created;
    });
    // A process may have remembered this id as unknown.
    await this.announce(id);
    return { key: `tgw_${id}_${secret}`, apiKey: toView(record) };
  }

  async list(principal: Principal, tenantRef: string): Promise<ApiKeyView[]> {
    const tenant = await this.tenants.find(principal, tenantRef);
    return (await this.keys.listByTenant(tenant.id, 1000)).map(toView);
  }

  /** Revokes a key: refused on every API process within KEY_CACHE_MS at worst, at once where the announcement arrives. */
  async revoke(principal: Principal, tenantRef: string, keyId: string): Promise<ApiKeyView> {
    const tenant = await this.tenants.find(principal, tenantRef);
    const record = await this.uow.run(async () => {
      if (!(await this.keys.revoke(tenant.id, keyId))) {
        const existing = await this.keys.getById(keyId);
        if (!existing || existing.tenantId !== tenant.id) throw keyNotFound(keyId);
        return existing; // revoked already: nothing to record
      }
      await this.audit.record(principal, 'key.revoke', { tenantId: tenant.id, target: `key:${keyId}` });
      return (await this.keys.getById(keyId))!;
    });
    await this.announce(keyId);
    return toView(record);
  }

  /** Tells every process to forget what it knows about a key (`*`: every key, e.g. after a tenant was removed). */
  async announce(keyId: string): Promise<void> {
    this.drop(keyId);
    try {
      await withTimeout(this.redis.general.publish(this.channel, keyId), 1_000);
    } catch {
      this.logger.warn(`Could not announce a key change over Redis; other processes see it within ${KEY_CACHE_MS} ms`);
    }
  }

  private drop(keyId: string): void {
    if (keyId === '*') this.cache.clear();
    else this.cache.delete(keyId);
  }

  private async load(id: string): Promise<ApiKeyRecord | null> {
    const cached = this.cache.get(id);
    if (cached && Date.now() - cached.at < KEY_CACHE_MS) return cached.record;
    const record = await this.keys.getById(id);
    this.cache.delete(id);
    this.cache.set(id, { record, at: Date.now() });
    if (this.cache.size > KEY_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    return record;
  }

  /** Records the use in the background, at most once a minute per key and process (and per key in the database). */
  private noteUse(id: string): void {
    const last = this.touched.get(id) ?? 0;
    if (Date.now() - last < LAST_USED_INTERVAL_MS) return;
    this.touched.set(id, Date.now());
    if (this.touched.size > KEY_CACHE_MAX) this.touched.delete(this.touched.keys().next().value!);
    this.keys.touch(id, LAST_USED_INTERVAL_MS).catch((error: unknown) => {
      this.logger.warn({ msg: 'Could not record the last use of an API key', keyId: id, err: serializeError(error) });
    });
  }
}

function keyNotFound(keyId: string): NotFoundError {
  return new NotFoundError(`No API key ${keyId.slice(0, 40)}`, 'key_not_found');
}

export function toView(record: ApiKeyRecord): ApiKeyView {
  return {
    id: record.id,
    tenantId: record.tenantId,
    name: record.name,
    scopes: record.scopes,
    createdAt: record.createdAt.toISOString(),
    createdBy: record.createdBy,
    lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
    expiresAt: record.expiresAt?.toISOString() ?? null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
  };
}
