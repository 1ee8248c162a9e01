import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Bot, Composer } from 'grammy';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { BotRegistryService } from '../bots/bot-registry.service';
import { WorkerBot } from '../bots/bot.types';
import { evict } from '../bots/versioned-cache';
import { serializeError } from '../common/logger';
import { DeliveryOutcome, DestinationDeliveryService } from '../destinations/destination-delivery.service';
import { destinationOfLane } from '../destinations/destination.types';
import { FeatureCatalog } from '../features/feature-catalog';
import { FeatureSetupError } from '../features/feature-module.error';
import { GatewayContext } from '../handlers/context';
import { RedisConnections } from '../infra/redis/redis.module';
import { MetricsService } from '../metrics/metrics.service';
import { createTelegramFetch } from '../telegram/telegram-fetch';
import { AlbumParts, albumPartsOf, albums, mediaGroupOf } from './album';
import { updateKindLabel } from '../telegram/update-kinds';
import { DeadLetterRecord } from './dead-letters.service';
import { createDispatcher } from './dispatcher';
import { LegacyQueueMigration } from './legacy-migration';
import { FloodWaitError, LeaseLostError, leaseGuards } from './lease-guard';
import { ACK, CLAIM, DEFER, HEARTBEAT, HOUSEKEEP, RELEASE_ORPHANS, UNREGISTER } from './mailbox-scripts';
import { classifyFailure, Failure } from './telegram-errors';
import { headKey, MailboxEntry, updateKind } from './update-queue';

/** An update interrupted this often by workers that died (it may be what kills them) goes to the dead letters. */
const MAX_STALLS = 2;
/** A worker that stopped hearing from Redis stops acting this long before its heartbeat can expire there. */
const SAFETY_MARGIN_MS = 1_000;

type MailboxRedis = Redis & {
  tgwClaim(...args: (string | number)[]): Promise<-1 | [string, string, string, number, string | null][]>;
  tgwAck(...args: (string | number)[]): Promise<(number | string)[]>;
  tgwDefer(...args: (string | number)[]): Promise<number>;
  tgwHeartbeat(...args: (string | number)[]): Promise<number>;
  tgwHousekeep(...args: (string | number)[]): Promise<[number, number, number]>;
  tgwUnregister(...args: (string | number)[]): Promise<number>;
  tgwReleaseOrphans(...args: (string | number)[]): Promise<number>;
};

/** A conversation this worker holds: its lease in Redis and its mailbox's head entry. */
interface Held {
  conv: string;
  bot: string;
  lease: string;
  /** The head entry (JSON), or null once the worker is done with the conversation. */
  head: string | null;
  /** Updates it may still run in a row before handing the conversation back (CONVERSATION_BATCH). */
  budget: number;
  stalls: number;
  /** The worker incarnation that claimed it (see `retire`). */
  generation: number;
}

type Outcome = 'next' | 'stop';

/** Entries of a mailbox looked at for the parts of an album. */
const ALBUM_SCAN = 100;

/**
 * Runs the conversations' mailboxes (see docs/architecture.md, "The update pipeline"). Up to WORKER_CONCURRENCY
 * conversations at once, each one update at a time in the order accepted; bots are served round robin. A failed
 * update waits in Redis (delayed set, or its bot's flood wait) without holding a slot; a conversation held by a
 * worker that died runs again, from its interrupted update, once that worker's heartbeat has expired.
 *
 * No two workers ever run one conversation at once, even across a long Redis outage: a worker acts for its
 * conversations (starts an update, calls the Bot API, writes a session) only while its last confirmed heartbeat
 * leaves more than a Bot API call's timeout before the heartbeat could expire in Redis. Past that it retires its
 * identity: its conversations are taken over only after the expiry, by which time it has stopped.
 */
@Injectable()
export class UpdateProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(UpdateProcessor.name);
  private readonly dispatcher: Composer<GatewayContext>;
  private readonly grammyBots = new Map<string, { token: string; featuresVersion: number; bot: Bot<GatewayContext> }>();
  private readonly fetch: typeof fetch;
  private readonly redis: MailboxRedis;
  private readonly wakeConnection: Redis;
  private readonly prefix: string;
  private readonly heartbeatEveryMs: number;

  private workerId = '';
  private generation = 0;
  /** When the last heartbeat that Redis confirmed was sent. */
  private lastBeatAt = 0;
  private registered = false;
  private closing = false;
  private closingAt = 0;
  private inFlight = 0;
  /** The conversations this worker runs, by conversation. */
  private readonly held = new Map<string, Held>();
  /** Claims sent and not yet answered, and claims answered so far (for `reconcile`). */
  private claimsPending = 0;
  private claimsDone = 0;
  /** Set when a BLPOP took a wake-up token that no wait was there to see. */
  private signalled = false;
  private readonly inFlightByBot = new Map<string, number>();
  /** Flood waits this process learnt of (bot id → until, ms): calls are refused locally until then. */
  private readonly floodUntil = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private housekeepTimer?: NodeJS.Timeout;
  private wakeLoop?: () => void;
  private wakeScheduled = false;
  private signal?: Promise<void>;
  private loop?: Promise<void>;
  private readonly running = new Set<Promise<void>>();
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly registry: BotRegistryService,
    private readonly migration: LegacyQueueMigration,
    redis: RedisConnections,
    private readonly metrics: MetricsService,
    private readonly features: FeatureCatalog,
    private readonly deliveries: DestinationDeliveryService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.dispatcher = createDispatcher({
      redis: redis.general,
      redisPrefix: config.redisPrefix,
      sessionTtlSeconds: config.sessionTtlSeconds,
    });
    this.prefix = `${config.redisPrefix}:`;
    this.fetch = createTelegramFetch({ connectionsPerOrigin: Math.max(256, config.worker.concurrency) });
    const commands = redis.forCommands('worker');
    for (const [name, lua] of Object.entries({
      tgwClaim: CLAIM,
      tgwAck: ACK,
      tgwDefer: DEFER,
      tgwHeartbeat: HEARTBEAT,
      tgwHousekeep: HOUSEKEEP,
      tgwUnregister: UNREGISTER,
      tgwReleaseOrphans: RELEASE_ORPHANS,
    })) {
      commands.defineCommand(name, { numberOfKeys: 0, lua });
    }
    this.redis = commands as MailboxRedis;
    this.wakeConnection = redis.forWorker('worker-wake');
    this.heartbeatEveryMs = Math.max(200, Math.floor(config.worker.lockDurationMs / 6));
  }

  onApplicationBootstrap() {
    // In the background: a worker started while Redis is away must not hold up the process (health, metrics).
    this.loop = this.start().catch((error: unknown) =>
      this.logger.error({ msg: 'Update worker stopped', err: serializeError(error) }),
    );
  }

  // Runs before the HTTP server and the connections close (see bootstrap.ts).
  async beforeApplicationShutdown() {
    this.closing = true;
    this.closingAt = Date.now();
    for (const wake of this.sleepers) wake();
    this.wakeLoop?.();
    this.wakeConnection.disconnect();
    // Each conversation stops after the update it is running (no Bot API call is cut short) and is handed back.
    await this.loop;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.housekeepTimer);
    if (this.registered) await this.redis.tgwUnregister(this.prefix, this.workerId).catch(() => undefined);
  }

  private async start(): Promise<void> {
    await this.migration.run(() => this.closing);
    if (this.closing) return;
    await this.register();
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatEveryMs));
    this.scheduleHousekeeping(0);
    this.logger.log(`Running up to ${this.config.worker.concurrency} conversations at once`);
    await this.claimLoop();
  }

  /** A new identity in Redis; retried while Redis is away. */
  private async register(): Promise<void> {
    for (let attempt = 0; !this.closing; attempt++) {
      const id = `${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
      const sentAt = Date.now();
      try {
        const ok = await this.redis.tgwHeartbeat(this.prefix, id, 'new', this.config.worker.lockDurationMs);
        if (ok === 1) {
          this.workerId = id;
          this.lastBeatAt = sentAt;
          this.registered = true;
          return;
        }
      } catch (error) {
        if (attempt === 0)
          this.logger.warn({ msg: 'Redis unavailable; the worker starts when it is back', err: serializeError(error) });
      }
      await this.sleep(1_000);
    }
  }

  private async heartbeat(): Promise<void> {
    if (!this.registered) return;
    const id = this.workerId;
    const sentAt = Date.now();
    try {
      const ok = await this.redis.tgwHeartbeat(this.prefix, id, 'renew', this.config.worker.lockDurationMs);
      if (id !== this.workerId) return;
      if (ok === 1) {
        this.lastBeatAt = sentAt;
        await this.reconcile(id);
      } else this.retire('its heartbeat expired in Redis');
    } catch {
      // Redis away: `mayAct` turns false once the last confirmed heartbeat is too old, and the worker retires then.
      if (!this.mayAct(0)) this.retire('Redis has been unreachable for longer than JOB_LOCK_MS allows');
    }
  }

  /**
   * Whether this worker may still start something that lasts up to `durationMs` for the conversations it holds:
   * its heartbeat, as last confirmed by Redis, must outlast it (less a margin for clock drift).
   */
  private mayAct(durationMs: number): boolean {
    return Date.now() + durationMs < this.lastBeatAt + this.config.worker.lockDurationMs - SAFETY_MARGIN_MS;
  }

  /**
   * Gives up this worker's identity: every conversation it holds stops at its next step, and is run again by
   * whichever worker finds the heartbeat expired. A new identity is registered when Redis answers.
   */
  private retire(why: string): void {
    if (!this.registered) return;
    this.logger.warn({ msg: 'Worker identity retired; its conversations will be taken over', reason: why });
    this.registered = false;
    this.generation++;
    void this.register().then(() => this.wakeLoop?.());
  }

  private async claimLoop(): Promise<void> {
    const { concurrency, botMaxInFlight, batch } = this.config.worker;
    while (!this.closing) {
      const free = concurrency - this.inFlight;
      if (free <= 0 || !this.registered || !this.mayAct(this.config.telegramTimeoutMs)) {
        await this.waitForWake(1_000);
        continue;
      }
      const skip =
        botMaxInFlight > 0 ? [...this.inFlightByBot].filter(([, n]) => n >= botMaxInFlight).map(([bot]) => bot) : [];
      let claimed: Awaited<ReturnType<MailboxRedis['tgwClaim']>>;
      const generation = this.generation;
      this.claimsPending++;
      try {
        claimed = await this.redis.tgwClaim(this.prefix, this.workerId, free, ...skip);
      } catch {
        await this.sleep(500);
        continue;
      } finally {
        this.claimsPending--;
        this.claimsDone++;
      }
      if (claimed === -1) {
        if (generation === this.generation) this.retire('its heartbeat expired in Redis');
        continue;
      }
      for (const [bot, ck, lease, stalls, head] of claimed) {
        this.hold({ conv: `${bot}\n${ck}`, bot, lease, head, budget: batch, stalls: Number(stalls), generation });
      }
      if (claimed.length === 0) await this.waitForSignal();
    }
  }

  /** Sleeps until a conversation becomes ready somewhere (a token on P:sig), a slot frees up, or 1 s passed. */
  private async waitForSignal(): Promise<void> {
    if (this.signalled) {
      this.signalled = false;
      return;
    }
    const slot = this.waitForWake(1_000);
    // One BLPOP at a time: a second one would queue behind the first on the connection, and the token that wakes
    // the first would be lost to a loop no longer waiting for it.
    this.signal ??= this.wakeConnection
      .blpop(`${this.prefix}sig`, 1)
      .then(
        (token) => {
          if (token) this.signalled = true;
        },
        () => this.sleep(500).then(() => undefined),
      )
      .finally(() => (this.signal = undefined));
    await Promise.race([slot, this.signal]);
    this.signalled = false;
    // Whichever won, the other wait's timer goes.
    this.wakeLoop?.();
  }

  private waitForWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeLoop === done) this.wakeLoop = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeLoop = done;
    });
  }

  /** Wakes the claim loop once the replies being processed now have all been handled (one claim for many slots). */
  private slotFreed(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wakeLoop?.();
    });
  }

  private hold(held: Held): void {
    this.held.set(held.conv, held);
    this.inFlight++;
    // Counted per bot, its destinations' deliveries included: BOT_MAX_IN_FLIGHT caps the whole bot.
    const bot = destinationOfLane(held.bot)?.botId ?? held.bot;
    this.inFlightByBot.set(bot, (this.inFlightByBot.get(bot) ?? 0) + 1);
    const run = this.runConversation(held)
      .catch((error: unknown) => this.logger.error({ msg: 'Conversation failed', err: serializeError(error) }))
      .finally(() => {
        if (this.held.get(held.conv) === held) this.held.delete(held.conv);
        this.running.delete(run);
        this.inFlight--;
        const left = (this.inFlightByBot.get(bot) ?? 1) - 1;
        if (left > 0) this.inFlightByBot.set(bot, left);
        else this.inFlightByBot.delete(bot);
        this.slotFreed();
      });
    this.running.add(run);
  }

  private async runConversation(held: Held): Promise<void> {
    while (held.head !== null) {
      if ((await this.runHead(held, held.head)) === 'stop') return;
    }
  }

  /** Runs the conversation's head update until it is done or waits elsewhere. */
  private async runHead(held: Held, raw: string): Promise<Outcome> {
    const entry = JSON.parse(raw) as MailboxEntry;
    if (held.stalls >= MAX_STALLS) {
      this.metrics.updatesFailed.inc({ kind: 'permanent' });
      return this.finish(held, raw, entry, `Interrupted ${held.stalls} times by a worker that stopped; not retried`);
    }
    const { attempts, backoffMs, backoffMaxMs } = this.config.queue;
    const lane = destinationOfLane(held.bot);
    for (let outageWaits = 0; ;) {
      if (this.closing) return this.defer(held, raw, raw, 'release', 0);
      if (!(await this.mayStart(held))) return 'stop';
      if (lane) {
        const outcome = await this.deliveries.deliver(lane, entry, (entry.n ?? 0) + 1, () => this.mayCall(held));
        if (outcome.kind === 'lost') continue;
        if (outcome.kind === 'unavailable') {
          await this.sleep(Math.min(backoffMs * 2 ** outageWaits++, 5_000));
          continue;
        }
        return this.afterDelivery(held, raw, entry, outcome);
      }
      let album: AlbumParts | null = null;
      if (mediaGroupOf(entry.update)) {
        try {
          album = await this.gatherAlbum(held, entry);
        } catch {
          await this.sleep(Math.min(backoffMs * 2 ** outageWaits++, 5_000));
          continue;
        }
        // Parts may still come: the conversation waits in Redis (holding no slot) until its album is quiet.
        const quietAt = (album?.lastAcceptedAt ?? 0) + this.config.worker.albumWaitMs;
        if (album && quietAt > Date.now()) return this.defer(held, raw, raw, 'delay', quietAt);
      }
      const failure = await this.attempt(held, entry, album);
      if (!failure) {
        this.metrics.updatesProcessed.inc(
          { kind: updateKindLabel(updateKind(entry.update)) },
          1 + (album?.parts.length ?? 0),
        );
        return this.finish(
          held,
          raw,
          entry,
          null,
          album?.parts.map((part) => part.raw),
        );
      }
      // This worker could no longer act for the conversation mid-update (cut off from Redis, or shutting down): run
      // it again once it may, or hand it back.
      if (failure.kind === 'lost') continue;
      this.metrics.updatesFailed.inc({ kind: failure.kind === 'flood_wait' ? 'rate_limited' : failure.kind });
      if (failure.kind === 'unavailable') {
        // Our own Redis or Postgres is away: wait for it without spending an attempt, as long as we hold on.
        await this.sleep(Math.min(backoffMs * 2 ** outageWaits++, 5_000));
        continue;
      }
      if (failure.kind === 'flood_wait') {
        // Telegram's flood control is the bot's, not this update's: the bot waits, and no attempt is spent.
        const until = Date.now() + failure.retryAfterMs;
        if ((this.floodUntil.get(held.bot) ?? 0) < until) this.floodUntil.set(held.bot, until);
        if (failure.reason) {
          this.logger.warn({ msg: `${failure.reason}; the bot waits ${failure.retryAfterMs} ms`, entryId: entry.id });
        }
        return this.defer(held, raw, raw, 'pause', until);
      }
      if (failure.kind === 'disabled' || failure.kind === 'revoked') {
        // Disabled, or its token revoked: its updates stay queued, untouched, until it is enabled again or its token
        // replaced (or it is deleted: then dead letters).
        return this.defer(held, raw, raw, 'disabled', Date.now() + 5_000);
      }
      const n = (entry.n ?? 0) + 1;
      const final = failure.kind === 'permanent' || n >= attempts;
      const line = final
        ? `Attempt ${n} failed (${failure.kind}): ${failure.reason}; ${failure.kind === 'permanent' ? 'not retried' : 'giving up'}`
        : null;
      const updated: MailboxEntry = { ...entry, n, log: [...(entry.log ?? [])] };
      const logLine = (text: string) => {
        updated.log!.push(text);
        this.logger.warn({ msg: text, entryId: entry.id });
      };
      if (final) {
        logLine(line!);
        const reason = failure.kind === 'permanent' ? failure.reason : `Gave up after ${n} attempts: ${failure.reason}`;
        this.logger.warn({ msg: 'Update failed; kept in the dead letters', entryId: entry.id, reason });
        return this.finish(held, raw, updated, reason);
      }
      const waitMs = Math.min(backoffMs * 2 ** (n - 1), backoffMaxMs);
      logLine(`Attempt ${n} failed (${failure.kind}): ${failure.reason}; retrying in ${waitMs} ms`);
      return this.defer(held, raw, JSON.stringify(updated), 'delay', Date.now() + waitMs);
    }
  }

  /**
   * What follows a delivery attempt to a destination: done, or retried on DESTINATION_RETRY_SCHEDULE (the
   * conversation waits in the delayed set; the whole destination waits when its breaker opened or it asked to), or
   * a dead letter after the last attempt.
   */
  private afterDelivery(held: Held, raw: string, entry: MailboxEntry, outcome: DeliveryOutcome): Promise<Outcome> {
    switch (outcome.kind) {
      case 'delivered':
      case 'gone':
        return this.finish(held, raw, entry, null);
      case 'disabled':
        return this.defer(held, raw, raw, 'pause', Date.now() + 30_000);
      case 'failed':
        break;
      case 'lost':
      case 'unavailable':
        throw new Error(`Unexpected delivery outcome ${outcome.kind}`);
    }
    const schedule = this.config.destinations.retryScheduleMs;
    const n = (entry.n ?? 0) + 1;
    const updated: MailboxEntry = { ...entry, n, log: [...(entry.log ?? []), ''] };
    if (n > schedule.length) {
      updated.log![updated.log!.length - 1] = `Attempt ${n} failed: ${outcome.reason}; giving up`;
      this.logger.warn({ msg: 'Delivery failed; kept in the dead letters', entryId: entry.id, lane: held.bot });
      return this.finish(held, raw, updated, `Gave up after ${n} delivery attempts: ${outcome.reason}`);
    }
    const until = Math.max(Date.now() + schedule[n - 1], outcome.pauseUntil ?? 0);
    updated.log![updated.log!.length - 1] =
      `Attempt ${n} failed: ${outcome.reason}; retrying at ${new Date(until).toISOString()}`;
    const json = JSON.stringify(updated);
    // The destination's breaker (or its Retry-After) holds the whole lane; this conversation waits for its own
    // next attempt either way, so a pause spends no attempt and the schedule still reaches hours.
    return outcome.pauseUntil
      ? this.defer(held, raw, json, 'hold', until, outcome.pauseUntil)
      : this.defer(held, raw, json, 'delay', until);
  }

  /**
   * Whether this worker may start an update of the conversation: waits while it is cut off from Redis but its
   * heartbeat may still be alive there; false once the conversation is no longer its own (it retired).
   */
  private async mayStart(held: Held): Promise<boolean> {
    for (;;) {
      if (held.generation !== this.generation) return false;
      if (this.mayAct(this.config.telegramTimeoutMs)) return true;
      if (!this.mayAct(0)) {
        this.retire('Redis has been unreachable for longer than JOB_LOCK_MS allows');
        return false;
      }
      if (this.closing) return false;
      await this.sleep(100);
    }
  }

  /** Whether a Bot API call (or the session write) may be made now for the conversation. */
  private mayCall(held: Held): boolean {
    const timeout = this.config.telegramTimeoutMs;
    if (held.generation !== this.generation || !this.mayAct(timeout)) return false;
    // Shutting down: only a call that ends before the shutdown deadline (the update is handed back otherwise).
    return !this.closing || Date.now() + timeout < this.closingAt + this.config.shutdownTimeoutMs - 1_000;
  }

  /**
   * For a bot with albums on, the other parts of the head's media group waiting in its mailbox; null for other bots.
   * Throws when Redis or Postgres is away.
   */
  private async gatherAlbum(held: Held, entry: MailboxEntry): Promise<AlbumParts | null> {
    const bot = await this.registry.findForWorker(held.bot);
    if (!bot?.albums) return null;
    const ck = held.conv.slice(held.conv.indexOf('\n') + 1);
    // Telegram's albums have at most 10 parts; a few other updates may be interleaved with them.
    return albumPartsOf(entry, await this.redis.lrange(`${this.prefix}mb:${held.bot}:${ck}`, 0, ALBUM_SCAN - 1));
  }

  /** Runs the update once (with the rest of its album, if any); the failure, if any, classified. */
  private async attempt(
    held: Held,
    entry: MailboxEntry,
    album: AlbumParts | null,
  ): Promise<
    | Failure
    | { kind: 'lost' }
    | { kind: 'disabled' }
    | { kind: 'flood_wait'; retryAfterMs: number; reason: string | null }
    | null
  > {
    let bot: WorkerBot | null = null;
    try {
      bot = await this.registry.findForWorker(held.bot);
      if (!bot) return { kind: 'permanent', reason: 'The bot is no longer registered' };
      if (!bot.enabled || bot.revoked) return { kind: 'disabled' };
      leaseGuards.set(entry.update, {
        check: () => {
          if (!this.mayCall(held)) throw new LeaseLostError();
          const flood = (this.floodUntil.get(held.bot) ?? 0) - Date.now();
          if (flood > 0) throw new FloodWaitError(flood);
        },
      });
      if (album) {
        const messages = [entry, ...album.parts.map((part) => part.entry)].map((e) => mediaGroupOf(e.update)!.message);
        albums.set(entry.update, messages);
      }
      await this.grammyBot(bot).handleUpdate(entry.update);
      return null;
    } catch (error) {
      const inner = (error as { error?: unknown }).error ?? error;
      if (inner instanceof LeaseLostError) return { kind: 'lost' };
      if (inner instanceof FeatureSetupError) return { kind: 'permanent', reason: inner.message };
      if (inner instanceof FloodWaitError)
        return { kind: 'flood_wait', retryAfterMs: inner.retryAfterMs, reason: null };
      const failure = classifyFailure(error);
      if (failure.kind === 'rate_limited') return { ...failure, kind: 'flood_wait' };
      if (failure.kind === 'revoked' && bot) {
        // Marked in the registry (unless the token changed meanwhile); until then, the update waits all the same.
        await this.registry
          .markRevoked(bot.id, bot.token)
          .catch((markError: unknown) =>
            this.logger.warn({ msg: 'Could not mark the bot revoked', botId: bot?.id, err: serializeError(markError) }),
          );
      }
      return failure;
    }
  }

  /**
   * Removes the done head (processed when `deadReason` is null, else kept as a dead letter) and goes on with the
   * conversation's next update, up to CONVERSATION_BATCH in a row; then hands the conversation back to the end of its
   * bot's ready list, so that other conversations get their turn.
   */
  private async finish(
    held: Held,
    raw: string,
    entry: MailboxEntry,
    deadReason: string | null,
    albumParts: string[] = [],
  ): Promise<Outcome> {
    let deadArgs: (string | number)[] = albumParts.length > 0 ? ['', '', '', ''] : [];
    if (deadReason !== null) {
      const id = `${entry.id}-${held.lease.slice(held.lease.indexOf(':') + 1)}`;
      const failedAt = Date.now();
      const ck = held.conv.slice(held.conv.indexOf('\n') + 1);
      // A destination's dead letter is its bot's, and goes back to the destination's lane when retried.
      const lane = destinationOfLane(held.bot);
      const botId = lane?.botId ?? held.bot;
      const record: DeadLetterRecord = { id, botId, ck, reason: deadReason, failedAt, entry };
      if (lane) Object.assign(record, { lane: held.bot, destinationId: lane.destinationId });
      deadArgs = [id, JSON.stringify(record), botId, failedAt];
    }
    held.head = null;
    const more = this.closing ? -1 : --held.budget > 0 ? 1 : 0;
    const reply = await this.retrying(held, () =>
      this.redis.tgwAck(
        this.prefix,
        held.conv,
        held.lease,
        this.workerId,
        headKey(raw),
        more,
        ...deadArgs,
        ...albumParts,
      ),
    );
    if (!reply || reply[0] !== 1) return 'stop';
    held.head = String(reply[1]);
    held.stalls = 0;
    return 'next';
  }

  private async defer(
    held: Held,
    raw: string,
    updated: string,
    mode: 'delay' | 'pause' | 'disabled' | 'hold' | 'release',
    until: number,
    pauseUntil = 0,
  ): Promise<Outcome> {
    held.head = null;
    await this.retrying(held, () =>
      this.redis.tgwDefer(this.prefix, held.conv, held.lease, this.workerId, raw, updated, mode, until, pauseUntil),
    );
    return 'stop';
  }

  /**
   * A mailbox command, retried while Redis is away for as long as this worker still holds the conversation; null
   * when it gave up (the conversation is then taken over once this worker's heartbeat expires).
   */
  private async retrying<T>(held: Held, command: () => Promise<T>): Promise<T | null> {
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      try {
        return await command();
      } catch (error) {
        if (held.generation !== this.generation) return null;
        if (!this.mayAct(0)) {
          this.retire('Redis has been unreachable for longer than JOB_LOCK_MS allows');
          this.logger.warn({
            msg: 'Lost touch with Redis; the conversation will be taken over',
            err: serializeError(error),
          });
          return null;
        }
        await this.sleep(wait);
      }
    }
  }

  /**
   * Hands back the conversations Redis says this worker holds but it does not run (a claim whose reply was lost, a
   * run that failed unexpectedly), so that none waits for a heartbeat that never expires. Skipped while a claim is
   * on its way, whose conversations are not in memory yet.
   */
  private async reconcile(id: string): Promise<void> {
    if (this.claimsPending > 0) return;
    const claims = this.claimsDone;
    const members = await this.redis.smembers(`${this.prefix}wl:${id}`);
    if (this.claimsPending > 0 || claims !== this.claimsDone || id !== this.workerId) return;
    const orphans = members.filter((conv) => !this.held.has(conv));
    if (orphans.length === 0) return;
    const released = await this.redis.tgwReleaseOrphans(this.prefix, id, ...orphans);
    if (released > 0) this.logger.warn({ msg: 'Handed back conversations this worker had lost track of', released });
  }

  private scheduleHousekeeping(delayMs: number): void {
    clearTimeout(this.housekeepTimer);
    this.housekeepTimer = setTimeout(() => void this.housekeep(), delayMs);
  }

  /** Recovers dead workers' conversations, promotes due retries and ended flood waits; then sleeps until the next. */
  private async housekeep(): Promise<void> {
    if (this.closing) return;
    let nextMs = Math.min(1_000, this.heartbeatEveryMs);
    try {
      const [recovered, , nextAt] = await this.redis.tgwHousekeep(this.prefix, 1_000);
      if (recovered > 0) this.logger.warn({ msg: "Took back a stopped worker's conversations", recovered });
      if (nextAt >= 0) nextMs = Math.min(nextMs, nextAt + 5);
      const now = Date.now();
      for (const [bot, until] of this.floodUntil) if (until <= now) this.floodUntil.delete(bot);
    } catch {
      // Redis away: try again at the next tick.
    }
    if (!this.closing) this.scheduleHousekeeping(nextMs);
  }

  private grammyBot(bot: WorkerBot): Bot<GatewayContext> {
    const cached = this.grammyBots.get(bot.id);
    this.grammyBots.delete(bot.id);
    if (
      cached &&
      cached.token === bot.token &&
      cached.bot.botInfo === bot.botInfo &&
      cached.featuresVersion === bot.featuresVersion
    ) {
      this.grammyBots.set(bot.id, cached);
      return cached.bot;
    }
    // The bot's own features, built once per version of its list (its registry entry is reloaded when it changes).
    const features = this.features.compose(bot.features);
    const grammyBot = new Bot<GatewayContext>(bot.token, {
      botInfo: bot.botInfo,
      client: {
        apiRoot: this.config.telegramApiRoot,
        timeoutSeconds: this.config.telegramTimeoutMs / 1000,
        fetch: this.fetch,
      },
    });
    grammyBot.use(this.dispatcher, features);
    this.grammyBots.set(bot.id, { token: bot.token, featuresVersion: bot.featuresVersion, bot: grammyBot });
    evict(this.grammyBots, this.config.botCache.size);
    return grammyBot;
  }

  /** Waits, unless the process starts shutting down; false when interrupted. */
  private sleep(ms: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleepers.delete(wake);
        resolve(true);
      }, ms);
      this.sleepers.add(wake);
    });
  }
}
