import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BotAdminService } from '../bots/bot-admin.service';
import { BotRegistryService } from '../bots/bot-registry.service';
import { BotRecord } from '../bots/bot.types';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  QuotaExceededError,
  UnprocessableError,
} from '../common/errors';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { UnitOfWork } from '../infra/database/unit-of-work';
import { RedisConnections } from '../infra/redis/redis.module';
import { unknownUpdateKinds, unknownUpdateKindsMessage } from '../telegram/update-kinds';
import { AuditService, AuditTarget } from '../tenants/audit.service';
import { QuotaService } from '../tenants/quota.service';
import { Principal } from '../tenants/tenant.types';
import { ENQUEUE_LANE, RESUME_LANE } from '../updates/mailbox-scripts';
import { conversationKey, MailboxEntry } from '../updates/update-queue';
import { DestinationChanges, DestinationRepository, MAX_DESTINATIONS_PER_BOT } from './destination.repository';
import { DestinationSecrets } from './destination-secrets';
import {
  destinationKeys,
  DestinationKind,
  DestinationRecord,
  DESTINATION_KINDS,
  laneOf,
  streamKeyOf,
} from './destination.types';
import { checkDestinationUrl, DeliveryAttempt, HttpDelivery } from './http-delivery';

/** A destination as callers see it: never its secret. */
export interface DestinationView {
  id: string;
  botId: string;
  kind: DestinationKind;
  name: string | null;
  url: string | null;
  updateKinds: string[] | null;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: string | null;
  /** stream: the Redis key consumers read, and its length bound. */
  streamKey: string | null;
  streamMaxLen: number | null;
  /** http: until when the previous signing secret still signs (after a rotation). */
  previousSecretExpiresAt: string | null;
  /** http: deliveries waiting (counted against the tenant's backlog quota, like a bot's updates). */
  pending: number;
  /** http: failures in a row now, and since when it fails (null when the last attempt succeeded). */
  failuresInARow: number;
  failingSince: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface DestinationInput {
  kind: DestinationKind;
  name?: string | null;
  url?: string;
  updateKinds?: string[] | null;
  streamMaxLen?: number;
}

export interface DestinationPatch {
  name?: string | null;
  url?: string;
  updateKinds?: string[] | null;
  streamMaxLen?: number;
  enabled?: boolean;
}

export interface DeliveryLogEntry {
  /** The log entry's id (a Redis stream id: ms-seq). */
  id: string;
  at: string;
  messageId: string;
  updateId: number;
  attempt: number;
  outcome: string;
  status: number | null;
  ms: number;
  error: string | null;
}

/** Most deliveries queued again by one replay. */
const MAX_REPLAY = 10_000;

/**
 * Destinations of bots (see docs/architecture.md, "Destinations"): adding, changing, disabling, removing, rotating
 * the signing secret, a test delivery, the log of attempts, and replays. Bots are found through BotAdminService, so
 * a tenant key reaches its own bots' destinations only; every change writes an audit record in its transaction and
 * reloads the bot's routes in every process.
 */
@Injectable()
export class DestinationAdminService {
  private readonly logger = new Logger('Admin');
  private readonly prefix: string;
  private readonly http: HttpDelivery;

  constructor(
    private readonly bots: BotAdminService,
    private readonly registry: BotRegistryService,
    private readonly destinations: DestinationRepository,
    private readonly secrets: DestinationSecrets,
    private readonly audit: AuditService,
    private readonly uow: UnitOfWork,
    private readonly redis: RedisConnections,
    private readonly quotas: QuotaService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.prefix = `${config.redisPrefix}:`;
    this.http = new HttpDelivery(config.destinations, 8);
  }

  async list(principal: Principal, botRef: string): Promise<DestinationView[]> {
    const bot = await this.bots.find(principal, botRef);
    return Promise.all((await this.destinations.listOfBot(bot.id)).map((d) => this.view(d)));
  }

  async get(principal: Principal, botRef: string, id: string): Promise<DestinationView> {
    const { destination } = await this.find(principal, botRef, id);
    return this.view(destination);
  }

  /** Adds a destination; an HTTP one's signing secret is in the answer, this once. */
  async create(
    principal: Principal,
    botRef: string,
    input: DestinationInput,
  ): Promise<{ destination: DestinationView; secret: string | null }> {
    return this.audit.guard(principal, 'destination.create', botRef, async () => {
      const bot = await this.bots.find(principal, botRef);
      if (!DESTINATION_KINDS.includes(input.kind))
        throw new BadRequestError(`kind must be one of ${DESTINATION_KINDS.join(', ')}`, 'invalid_destination');
      const updateKinds = this.checkKinds(input.updateKinds);
      let url: string | null = null;
      if (input.kind === 'http') {
        if (!input.url) throw new BadRequestError('An http destination needs a url', 'invalid_destination');
        url = await this.checkUrl(input.url);
      } else if (input.url) throw new BadRequestError('A stream destination has no url', 'invalid_destination');
      const id = randomUUID();
      const secret = input.kind === 'http' ? this.secrets.generate() : null;
      const created = await this.uow.run(async () => {
        if ((await this.destinations.countOfBot(bot.id)) >= MAX_DESTINATIONS_PER_BOT)
          throw new ConflictError(
            `A bot has at most ${MAX_DESTINATIONS_PER_BOT} destinations`,
            'too_many_destinations',
          );
        const record = await this.destinations.create({
          id,
          botId: bot.id,
          kind: input.kind,
          name: input.name ?? null,
          url,
          updateKinds,
          secretCiphertext: secret ? this.secrets.seal(id, secret) : null,
          streamMaxLen: input.kind === 'stream' ? (input.streamMaxLen ?? this.config.destinations.streamMaxLen) : null,
        });
        await this.audit.record(principal, 'destination.create', targetOf(bot, id), {
          kind: input.kind,
          url: url && redactUrl(url),
          updateKinds,
        });
        await this.registry.routesChanged(bot);
        return record;
      });
      this.logger.log({ msg: 'Destination added', botId: bot.id, destinationId: id, kind: input.kind });
      return { destination: await this.view(created), secret };
    });
  }

  async update(principal: Principal, botRef: string, id: string, patch: DestinationPatch): Promise<DestinationView> {
    return this.audit.guard(principal, 'destination.update', botRef, async () => {
      const { bot, destination } = await this.find(principal, botRef, id);
      const changes: DestinationChanges = {};
      if (patch.name !== undefined) changes.name = patch.name;
      if (patch.updateKinds !== undefined) changes.updateKinds = this.checkKinds(patch.updateKinds);
      if (patch.url !== undefined) {
        if (destination.kind !== 'http')
          throw new BadRequestError('A stream destination has no url', 'invalid_destination');
        changes.url = await this.checkUrl(patch.url);
      }
      if (patch.streamMaxLen !== undefined) {
        if (destination.kind !== 'stream')
          throw new BadRequestError('streamMaxLen is for stream destinations', 'invalid_destination');
        changes.streamMaxLen = patch.streamMaxLen;
      }
      if (patch.enabled !== undefined) {
        changes.enabled = patch.enabled;
        changes.disabledReason = patch.enabled ? null : `Disabled by ${principal.actor}`;
        changes.disabledAt = patch.enabled ? null : new Date();
      }
      const updated = await this.uow.run(async () => {
        const row = await this.destinations.update(destination.id, changes);
        if (!row) throw notFound(id);
        await this.audit.record(principal, 'destination.update', targetOf(bot, id), {
          ...patch,
          url: patch.url && redactUrl(patch.url),
        });
        await this.registry.routesChanged(bot);
        return row;
      });
      // Enabled again: its breaker starts closed, and its waiting deliveries go on.
      if (patch.enabled === true) await this.resetBreaker(destination.id, bot.id);
      return this.view(updated);
    });
  }

  /** Removes it: its deliveries still waiting are dropped, and its stream, log and breaker keys deleted. */
  async remove(principal: Principal, botRef: string, id: string): Promise<void> {
    return this.audit.guard(principal, 'destination.remove', botRef, async () => {
      const { bot, destination } = await this.find(principal, botRef, id);
      await this.uow.run(async () => {
        if (!(await this.destinations.delete(destination.id))) throw notFound(id);
        await this.audit.record(principal, 'destination.remove', targetOf(bot, id), { kind: destination.kind });
        await this.registry.routesChanged(bot);
      });
      await this.redis.general.del(...destinationKeys(this.config.redisPrefix, destination.id));
    });
  }

  /** A new signing secret (shown once); the previous one keeps signing for DESTINATION_SECRET_OVERLAP_SECONDS. */
  async rotateSecret(
    principal: Principal,
    botRef: string,
    id: string,
  ): Promise<{ destination: DestinationView; secret: string }> {
    return this.audit.guard(principal, 'destination.secret.rotate', botRef, async () => {
      const { bot, destination } = await this.find(principal, botRef, id);
      if (destination.kind !== 'http' || !destination.secretCiphertext)
        throw new BadRequestError('Only http destinations have a signing secret', 'invalid_destination');
      const secret = this.secrets.generate();
      const overlap = this.config.destinations.secretOverlapSeconds;
      const updated = await this.uow.run(async () => {
        const row = await this.destinations.update(destination.id, {
          secretCiphertext: this.secrets.seal(destination.id, secret),
          previousSecretCiphertext: overlap > 0 ? destination.secretCiphertext : null,
          previousSecretExpiresAt: overlap > 0 ? new Date(Date.now() + overlap * 1000) : null,
        });
        if (!row) throw notFound(id);
        await this.audit.record(principal, 'destination.secret.rotate', targetOf(bot, id), { overlapSeconds: overlap });
        await this.registry.routesChanged(bot);
        return row;
      });
      return { destination: await this.view(updated), secret };
    });
  }

  /** Sends a test delivery now (type `test`), or for a stream adds a test entry; the result, not retried. */
  async test(
    principal: Principal,
    botRef: string,
    id: string,
  ): Promise<{ ok: boolean; status: number | null; ms: number; error: string | null }> {
    const { bot, destination } = await this.find(principal, botRef, id);
    if (destination.kind === 'stream') {
      const started = performance.now();
      await this.redis.general.xadd(
        streamKeyOf(this.config.redisPrefix, destination.id),
        'MAXLEN',
        '~',
        destination.streamMaxLen ?? this.config.destinations.streamMaxLen,
        '*',
        'bot',
        bot.id,
        'update_id',
        '0',
        'kind',
        'test',
        'update',
        '{}',
      );
      return { ok: true, status: null, ms: Math.round(performance.now() - started), error: null };
    }
    const body = JSON.stringify({
      type: 'test',
      timestamp: new Date().toISOString(),
      data: { bot_id: bot.id, destination_id: destination.id },
    });
    const result: DeliveryAttempt = await this.http.post(
      destination.url!,
      { id: `test-${randomUUID()}`, timestamp: new Date(), body },
      this.secrets.signing(destination),
      this.config.destinations.timeoutMs,
    );
    return { ok: result.ok, status: result.status ?? null, ms: result.ms, error: result.error ?? null };
  }

  /** The latest attempts, newest first. */
  async attempts(principal: Principal, botRef: string, id: string, limit = 50): Promise<DeliveryLogEntry[]> {
    const { destination } = await this.find(principal, botRef, id);
    const rows = await this.redis.general.xrevrange(`${this.prefix}dlog:${destination.id}`, '+', '-', 'COUNT', limit);
    return rows.map(([logId, flat]) => {
      const f = fields(flat);
      return {
        id: logId,
        at: new Date(Number(logId.split('-')[0])).toISOString(),
        messageId: f.msg ?? '',
        updateId: Number(f.update_id),
        attempt: Number(f.attempt),
        outcome: f.outcome ?? '',
        status: f.status ? Number(f.status) : null,
        ms: Number(f.ms ?? 0),
        error: f.error ?? null,
      };
    });
  }

  /**
   * Delivers again what the log still holds: the deliveries that ended (delivered, dead, or skipped: the destination
   * was disabled or its backlog full) between `from` and `to`, or those with the given message ids (`webhook-id`).
   * Each goes to the end of its conversation, in the order the updates were accepted, with the same `webhook-id` (receivers that dedupe on it see a replay as a repeat). Returns how many.
   */
  async replay(
    principal: Principal,
    botRef: string,
    id: string,
    query: { from?: Date; to?: Date; messageIds?: string[] },
  ): Promise<{ queued: number }> {
    return this.audit.guard(principal, 'destination.replay', botRef, async () => {
      const { bot, destination } = await this.find(principal, botRef, id);
      if (destination.kind !== 'http')
        throw new BadRequestError(
          'Replay is for http destinations (stream consumers re-read their stream)',
          'invalid_destination',
        );
      if (!query.messageIds?.length && !query.from)
        throw new BadRequestError('Give a time range (from, to) or messageIds', 'invalid_replay');
      const wanted = query.messageIds?.length ? new Set(query.messageIds) : null;
      const start = wanted ? '-' : String(query.from!.getTime());
      const end = wanted || !query.to ? '+' : String(query.to.getTime());
      const rows = await this.redis.general.xrange(`${this.prefix}dlog:${destination.id}`, start, end);
      const seen = new Set<string>();
      const entries: MailboxEntry[] = [];
      for (const [, flat] of rows) {
        const f = fields(flat);
        if (!f.entry || (wanted && !wanted.has(f.msg)) || seen.has(f.msg)) continue;
        seen.add(f.msg);
        entries.push(JSON.parse(f.entry) as MailboxEntry);
        if (seen.size >= MAX_REPLAY) break;
      }
      // In the order the updates were accepted (the log is in the order attempts ended), so conversations keep theirs.
      entries.sort((a, b) => a.at - b.at || a.update.update_id - b.update.update_id);
      const now = Date.now();
      const pairs = entries.flatMap((entry) => [
        conversationKey(entry.update),
        JSON.stringify({ id: entry.id, at: now, update: entry.update } satisfies MailboxEntry),
      ]);
      const limit = await this.quotas.pendingLimit(bot.tenantId);
      const waiting = Number((await this.redis.general.get(`${this.prefix}pb:${laneOf(bot.id, destination.id)}`)) ?? 0);
      if (limit > 0 && waiting + pairs.length / 2 > limit)
        throw new QuotaExceededError(
          `The replay would put ${waiting + pairs.length / 2} deliveries in the destination's backlog; its quota is ` +
            `${limit}. Replay a shorter range, or wait until the backlog drains`,
          'backlog_quota_exceeded',
          60,
        );
      const queued = await this.audit.around(
        principal,
        'destination.replay',
        targetOf(bot, id),
        async () =>
          pairs.length === 0
            ? 0
            : Number(
                await this.redis.general.eval(ENQUEUE_LANE, 0, this.prefix, laneOf(bot.id, destination.id), ...pairs),
              ),
        (n) => ({ queued: n, from: query.from?.toISOString(), to: query.to?.toISOString() }),
      );
      return { queued };
    });
  }

  /** After a key rotation: every destination secret re-encrypted with the primary key (audited). Returns how many. */
  async reencryptSecrets(principal: Principal): Promise<number> {
    let done = 0;
    for (let after: string | undefined; ;) {
      const page = await this.destinations.pageWithSecrets(after, 100);
      if (page.length === 0) break;
      for (const record of page) {
        const sealed = this.secrets.reseal(record);
        if (sealed && (await this.destinations.update(record.id, sealed))) done++;
      }
      after = page[page.length - 1].id;
    }
    if (done > 0) {
      await this.audit.record(principal, 'keys.reencrypt', { tenantId: null, target: 'destination-secrets' }, { done });
    }
    return done;
  }

  private async find(
    principal: Principal,
    botRef: string,
    id: string,
  ): Promise<{ bot: BotRecord; destination: DestinationRecord }> {
    const bot = await this.bots.find(principal, botRef);
    const destination = /^[0-9a-f-]{36}$/i.test(id) ? await this.destinations.get(id) : null;
    if (!destination || destination.botId !== bot.id) throw notFound(id);
    return { bot, destination };
  }

  private checkKinds(kinds: string[] | null | undefined): string[] | null {
    if (kinds === undefined || kinds === null) return null;
    if (kinds.length === 0)
      throw new BadRequestError('updateKinds must not be empty (null: every kind)', 'invalid_destination');
    const unknown = unknownUpdateKinds(kinds);
    if (unknown.length > 0) throw new BadRequestError(unknownUpdateKindsMessage(unknown), 'invalid_update_kinds');
    return [...new Set(kinds)];
  }

  private async checkUrl(url: string): Promise<string> {
    const problem = await checkDestinationUrl(url, this.config.destinations);
    if (problem) throw new UnprocessableError(problem, 'destination_url_not_allowed');
    return url;
  }

  private async resetBreaker(id: string, botId: string): Promise<void> {
    const P = this.prefix;
    await this.redis.general.del(`${P}dbf:${id}`, `${P}dbs:${id}`);
    await this.redis.general.eval(RESUME_LANE, 0, this.prefix, laneOf(botId, id));
  }

  private async view(d: DestinationRecord): Promise<DestinationView> {
    const [failures, since, pending] =
      d.kind === 'http'
        ? await this.redis.general.mget(
            `${this.prefix}dbf:${d.id}`,
            `${this.prefix}dbs:${d.id}`,
            `${this.prefix}pb:${laneOf(d.botId, d.id)}`,
          )
        : [null, null, null];
    const overlap = d.previousSecretExpiresAt && d.previousSecretExpiresAt.getTime() > Date.now();
    return {
      id: d.id,
      botId: d.botId,
      kind: d.kind,
      name: d.name,
      url: d.url,
      updateKinds: d.updateKinds,
      enabled: d.enabled,
      disabledReason: d.disabledReason,
      disabledAt: d.disabledAt?.toISOString() ?? null,
      streamKey: d.kind === 'stream' ? streamKeyOf(this.config.redisPrefix, d.id) : null,
      streamMaxLen: d.streamMaxLen,
      previousSecretExpiresAt: overlap ? d.previousSecretExpiresAt!.toISOString() : null,
      pending: Number(pending ?? 0),
      failuresInARow: Number(failures ?? 0),
      failingSince: since ? new Date(Number(since)).toISOString() : null,
      createdAt: d.createdAt.toISOString(),
      updatedAt: d.updatedAt.toISOString(),
    };
  }
}

function targetOf(bot: BotRecord, destinationId: string): AuditTarget {
  return { tenantId: bot.tenantId, botId: bot.id, target: `destination:${destinationId}` };
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`No destination ${id.slice(0, 64)} for this bot`, 'destination_not_found');
}

/** A URL as the audit trail keeps it: without its query (which may carry a receiver's token). */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return '(invalid)';
  }
}

function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
