import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { Redis } from 'ioredis';
import { AppRole } from '../../src/app.module';
import { BotRegistryService } from '../../src/bots/bot-registry.service';
import { BotRecord } from '../../src/bots/bot.types';
import { createApp } from '../../src/bootstrap';
import { createRootLogger } from '../../src/common/logger';
import { AppConfig, loadConfig } from '../../src/config/config';
import { PrismaService } from '../../src/infra/database/prisma.service';
import { DeadLetterRecord } from '../../src/updates/dead-letters.service';
import { MailboxEntry } from '../../src/updates/update-queue';
import { FakeBot, FakeTelegram } from './fake-telegram';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Environment of a test gateway: its own Redis prefix, random keys, the fake Telegram as API root. */
export function testEnv(apiRoot: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `tgwtest-${randomBytes(4).toString('hex')}`,
    TELEGRAM_API_ROOT: apiRoot,
    PUBLIC_URL: 'https://gateway.example.com',
    ADMIN_API_KEYS: randomBytes(24).toString('base64url'),
    TOKEN_ENCRYPTION_KEYS: `test1:${randomBytes(32).toString('base64')}`,
    TOKEN_HASH_KEY: randomBytes(32).toString('base64'),
    JOB_BACKOFF_MS: '50',
    METRICS_CACHE_MS: '0',
    LOG_LEVEL: 'debug',
    // The webhook health monitor checks every bot in the database: only test files with a database of their own
    // turn it on (test/webhook-health.e2e-spec.ts).
    WEBHOOK_HEALTH_INTERVAL_SECONDS: '0',
    // Test files running at once register their bots in the one default tenant of the shared database: a bot quota
    // would count other files' bots. The quota tests set theirs per tenant.
    QUOTA_BOTS_PER_TENANT: '0',
    // The tests of the demo behaviour register bots without a feature list; a deployment's default is none.
    DEFAULT_BOT_FEATURES: 'start,form,counter,callback-query,echo',
    ...overrides,
  };
}

export interface RegisteredBot {
  record: BotRecord;
  token: string;
  secret: string;
  info: FakeBot;
}

export interface PostOptions {
  secret?: string | null;
  contentType?: string | null;
  headers?: Record<string, string>;
  rawBody?: string;
}

/** A whole gateway (API and worker by default) on a random port, talking to real Postgres and Redis. */
export class Harness {
  readonly botIds: string[] = [];

  private constructor(
    readonly app: NestFastifyApplication,
    readonly config: AppConfig,
    readonly telegram: FakeTelegram,
    readonly baseUrl: string,
    readonly redis: Redis,
    private readonly ownsTelegram: boolean,
    /** Every log line the gateway wrote (JSON), for asserting that no secret reached them. */
    readonly logs: string[],
  ) {}

  static async start(
    options: {
      role?: AppRole;
      env?: Record<string, string>;
      telegram?: FakeTelegram;
      /** Called after the application is built and before it starts (e.g. to add Fastify hooks). */
      beforeStart?: (app: NestFastifyApplication) => void;
    } = {},
  ): Promise<Harness> {
    const telegram = options.telegram ?? (await FakeTelegram.start());
    const config = loadConfig(testEnv(telegram.apiRoot, options.env));
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString());
        callback();
      },
    });
    const app = await createApp({
      role: options.role ?? 'all',
      config,
      logger: createRootLogger(config.logLevel, sink),
    });
    options.beforeStart?.(app);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address() as { port: number };
    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => undefined);
    const scheme = config.tls && options.role !== 'worker' ? 'https' : 'http';
    return new Harness(app, config, telegram, `${scheme}://127.0.0.1:${address.port}`, redis, !options.telegram, logs);
  }

  /** Updates waiting in conversation mailboxes (a running one included), optionally of one bot (with its lanes). */
  async queued(botId?: string): Promise<MailboxEntry[]> {
    const prefix = this.config.redisPrefix;
    // A bot's own mailboxes (`mb:<bot>:<ck>`) and its destinations' (`mb:<bot>/<destination>:<ck>`).
    const keys = await this.scan(`${prefix}:mb:${botId ? `${botId}[:/]` : ''}*`);
    const lists = await Promise.all(keys.map((key) => this.redis.lrange(key, 0, -1)));
    return lists.flat().map((raw) => JSON.parse(raw) as MailboxEntry);
  }

  /** The dead letters, as stored, optionally of one bot. */
  async failed(botId?: string): Promise<DeadLetterRecord[]> {
    const prefix = this.config.redisPrefix;
    const ids = await this.redis.zrange(botId ? `${prefix}:dlb:${botId}` : `${prefix}:dls`, '0', '-1');
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => `${prefix}:dl:${id}`));
    return raws.flatMap((raw) => (raw ? [JSON.parse(raw) as DeadLetterRecord] : []));
  }

  get registry(): BotRegistryService {
    return this.app.get(BotRegistryService);
  }

  /** Registers a bot known to the fake Telegram, the way the admin API does, and returns its secrets. */
  async registerBot(overrides: Partial<FakeBot> = {}, name?: string): Promise<RegisteredBot> {
    const { token, bot } = this.telegram.addBot(overrides);
    const record = await this.registry.register({ token, name, botInfo: bot });
    this.botIds.push(record.id);
    return { record, token, secret: this.registry.webhookSecretOf(record), info: bot };
  }

  post(token: string, body: unknown, options: PostOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
    if (options.secret !== null && options.secret !== undefined) {
      headers['x-telegram-bot-api-secret-token'] = options.secret;
    }
    return fetch(`${this.baseUrl}/webhook/${token}`, {
      method: 'POST',
      headers,
      body: options.rawBody ?? JSON.stringify(body),
    });
  }

  /** Posts as Telegram would for a registered bot. */
  deliver(bot: RegisteredBot, update: unknown): Promise<Response> {
    return this.post(bot.token, update, { secret: bot.secret });
  }

  /** An admin API call with this gateway's key; a bot it registers is deleted by `close`. */
  async admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.config.adminApiKeys[0]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const raw = await res.text();
    const parsed = raw ? JSON.parse(raw) : undefined;
    if (method === 'POST' && path === '/admin/bots' && res.status === 201) this.botIds.push(parsed.id);
    return { status: res.status, body: parsed };
  }

  /** Registers a bot known to the fake Telegram through the admin API, with this feature list. */
  async registerWithFeatures(features: { name: string; settings?: Record<string, unknown> }[]): Promise<RegisteredBot> {
    const { token, bot } = this.telegram.addBot();
    const res = await this.admin('POST', '/admin/bots', { token, features });
    if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${JSON.stringify(res.body)}`);
    const record = (await this.registry.resolve(res.body.id))!;
    return { record, token, secret: this.registry.webhookSecretOf(record), info: bot };
  }

  /** Redis keys this gateway wrote, without the prefix. */
  async keys(pattern = '*'): Promise<string[]> {
    const prefix = `${this.config.redisPrefix}:`;
    const keys = await this.scan(`${prefix}${pattern}`);
    return keys.map((k) => k.slice(prefix.length));
  }

  /** SCAN, not KEYS: KEYS blocks the shared Redis for every other test file while it walks the keyspace. */
  private async scan(match: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const batch of this.redis.scanStream({ match, count: 1000 })) keys.push(...(batch as string[]));
    return keys;
  }

  async close(): Promise<void> {
    await this.app.close();
    const prisma = new PrismaService(this.config);
    try {
      if (this.botIds.length > 0) await prisma.bot.deleteMany({ where: { id: { in: this.botIds } } });
    } finally {
      await prisma.$disconnect();
    }
    const keys = await this.scan(`${this.config.redisPrefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await this.redis.del(...keys.slice(i, i + 500));
    this.redis.disconnect();
    if (this.ownsTelegram) await this.telegram.close();
  }
}

/**
 * A list of clean-ups run after each test of the calling `describe`, last registered first (call it inside the
 * `describe`).
 */
export function cleanupsAfterEach(): (() => Promise<unknown>)[] {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return cleanups;
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A response's JSON body, untyped (tests assert on its shape). */
export async function jsonOf(res: Response): Promise<any> {
  return res.json();
}
