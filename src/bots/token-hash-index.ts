import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { serializeError } from '../common/logger';
import { BotChange, BotChangeBus } from './bot-change.bus';
import { BotRepository } from './bot.repository';
import { KnownTokenHashes } from './known-token-hashes';

/** Bots per query when loading the set. */
const LOAD_PAGE = 5_000;
/** After a failed load, webhook calls answer 503 at once for this long instead of trying again each. */
const LOAD_RETRY_GAP_MS = 1_000;

/**
 * Keeps, in an API process, the set of every registered token's blind index, so that a webhook call with a token
 * no bot has never reaches Postgres: the queries webhook traffic causes grow with changes to the registry, not
 * with requests.
 *
 * - Loaded in pages when the process starts serving webhooks. Until it is loaded (Postgres away at start), webhook
 *   calls for tokens not in the bot cache answer 503, as a lookup would.
 * - A change announced on the bus (register, new token, delete…) costs one query by bot id: the bot's hash now.
 * - Every BOT_CACHE_TTL_MS, and when a lost bus subscription is back, one query compares the registry's
 *   fingerprint (count and sum of hash prefixes) with the set's; they differ only when a change was missed, and
 *   then the set is loaded again.
 *
 * Loads, changes and checks run one at a time, in order, so an older answer never overwrites a newer one.
 */
@Injectable()
export class TokenHashIndex implements OnModuleDestroy {
  private readonly logger = new Logger(TokenHashIndex.name);
  private known?: KnownTokenHashes;
  private enabled = false;
  private loading?: Promise<void>;
  private lastFailure?: { at: number; error: Error };
  private queue: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly bots: BotRepository,
    changes: BotChangeBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    changes.onChange((change) => {
      if (this.enabled) void this.serially(() => this.refresh(change));
    });
    changes.onResync(() => {
      if (this.enabled) void this.verify();
    });
  }

  /** Starts keeping the set (API processes only: workers and the CLI never look tokens up). */
  enable(): void {
    if (this.enabled) return;
    this.enabled = true;
    this.load().catch(() => undefined); // logged by load
    this.timer = setInterval(() => void this.verify(), this.config.botCache.ttlMs);
    this.timer.unref();
  }

  onModuleDestroy() {
    clearInterval(this.timer);
  }

  /** The set, or undefined while it is not loaded (then wait for `ready`). */
  get current(): KnownTokenHashes | undefined {
    return this.known;
  }

  /** Resolves once the set is loaded; rejects (DatabaseUnavailableError) while it cannot be. */
  ready(): Promise<void> {
    if (this.known) return Promise.resolve();
    if (this.loading) return this.loading;
    if (this.lastFailure && Date.now() - this.lastFailure.at < LOAD_RETRY_GAP_MS) {
      return Promise.reject(this.lastFailure.error);
    }
    return this.load();
  }

  /** A hash this process just wrote to the registry: known at once, before the bus brings it back. */
  add(hash: string): void {
    this.known?.add(hash);
  }

  /** Compares the set with the registry and loads it again when they differ. Never throws. */
  verify(): Promise<void> {
    return this.serially(async () => {
      if (!this.known) return this.loadNow();
      const fingerprint = await this.bots.tokenHashFingerprint();
      if (this.known.matches(fingerprint)) return;
      this.logger.log('The known token hashes differ from the registry (a change was missed); loading them again');
      await this.loadNow();
    }).catch((error: unknown) =>
      this.logger.warn({ msg: 'Cannot check the known token hashes against the registry', err: serializeError(error) }),
    );
  }

  private load(): Promise<void> {
    this.loading ??= this.serially(() => this.loadNow()).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async loadNow(): Promise<void> {
    try {
      const known = new KnownTokenHashes();
      let after: string | undefined;
      for (;;) {
        const page = await this.bots.tokenHashPage(after, LOAD_PAGE);
        for (const row of page) known.add(row.tokenHash);
        if (page.length < LOAD_PAGE) break;
        after = page[page.length - 1].id;
      }
      this.known = known;
      this.lastFailure = undefined;
    } catch (error) {
      this.lastFailure = { at: Date.now(), error: error instanceof Error ? error : new Error(String(error)) };
      this.logger.warn({ msg: 'Cannot load the known token hashes', err: serializeError(error) });
      throw error;
    }
  }

  private async refresh(change: BotChange): Promise<void> {
    const known = this.known;
    if (!known) return; // the next load reads the registry as it is
    try {
      const current = await this.bots.tokenHashOf(change.botId);
      for (const hash of change.tokenHashes) if (hash !== current) known.delete(hash);
      if (current) known.add(current);
    } catch (error) {
      // Unsure which token the bot has now: keep every hash it may have (a superset only costs lookups); the next
      // check puts the set right.
      for (const hash of change.tokenHashes) known.add(hash);
      this.logger.warn({ msg: 'Cannot read a changed bot token hash; kept its hashes', err: serializeError(error) });
    }
  }

  private serially<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
