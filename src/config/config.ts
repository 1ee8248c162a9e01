import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export type NodeEnv = 'development' | 'test' | 'production';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface AppConfig {
  nodeEnv: NodeEnv;
  host: string;
  port: number;
  /**
   * Health and metrics port of a worker-only process; 0 (the default) means no listener, so several workers can run
   * on one host without choosing ports.
   */
  workerPort: number;
  logLevel: LogLevel;
  databaseUrl: string;
  redisUrl: string;
  /** Prefix of every Redis key the gateway writes (mailboxes, dedupe keys, dead letters, sessions). */
  redisPrefix: string;
  /** Run even when Redis may evict keys (queued updates could be lost). */
  redisAllowEviction: boolean;
  telegramApiRoot: string;
  publicUrl: string;
  /** HTTPS served by the gateway itself (API process); absent: plain HTTP (behind a reverse proxy or a tunnel). */
  tls?: {
    certFile: string;
    keyFile: string;
    /** How often the files' modification times are checked; a change loads the new pair without a restart. */
    reloadIntervalMs: number;
  };
  adminApiKeys: string[];
  /** Keyring for tokens and webhook secrets; the first key is the primary one, used for new writes. */
  encryptionKeys: EncryptionKey[];
  /** HMAC-SHA256 key of the token blind index; deliberately separate from the encryption keys. */
  tokenHashKey: Buffer;
  webhook: {
    bodyLimit: number;
    /** CIDR ranges allowed to call the webhook; empty means no allowlist. */
    allowedIps: string[];
    trustedProxies: string[];
    enqueueTimeoutMs: number;
    retryAfterSeconds: number;
    /** How long the previous webhook secret stays valid after a rotation. */
    secretOverlapSeconds: number;
  };
  botCache: {
    size: number;
    ttlMs: number;
    negativeSize: number;
    negativeTtlMs: number;
  };
  queue: {
    /** Partition queues of the layout before 1.0: read only to move updates still queued there (upgrade). */
    partitions: number;
    dedupeTtlSeconds: number;
    attempts: number;
    backoffMs: number;
    backoffMaxMs: number;
    failedRetentionSeconds: number;
  };
  worker: {
    /**
     * How long a worker's heartbeat lasts without renewal: the conversations of a worker that died are run again by
     * another after it.
     */
    lockDurationMs: number;
    /** Updates one worker process runs at once (each in a different conversation). */
    concurrency: number;
    /** Most updates of one bot a worker process runs at once; 0: no limit beyond the round robin between bots. */
    botMaxInFlight: number;
    /** Updates of one conversation a worker runs in a row before it hands the conversation back (fairness). */
    batch: number;
    /** For bots with albums on: how long a media group must be quiet before it runs as one album. */
    albumWaitMs: number;
  };
  /** Longest Bot API call from a handler. */
  telegramTimeoutMs: number;
  /** The outbound Bot API proxy (API process): consumers call `<path>/bot<proxy credential>/<method>`. */
  proxy: {
    /** Path prefix of the proxy's API root, e.g. `/telegram`. */
    path: string;
    /** Longest proxied call, uploads and downloads included. */
    timeoutMs: number;
    /** Largest request body (uploads) the proxy forwards. */
    bodyLimit: number;
  };
  /** The webhook health monitor (worker processes; one of them at a time checks). */
  webhookHealth: {
    /** How often every enabled bot's webhook is checked (checks spread over it); 0: no monitor. */
    intervalMs: number;
    /** Most getWebhookInfo calls per second across the deployment. */
    ratePerSecond: number;
    /** Set a drifted webhook again (the sync-webhooks logic). */
    repair: boolean;
    /** How long the monitor's leadership lasts in Redis without renewal (renewed every third of it). */
    leaseMs: number;
  };
  metrics: {
    /** Bearer keys that may scrape /metrics (ADMIN_API_KEYS may too). */
    apiKeys: string[];
    /** /metrics without a key (default in development and tests only). */
    public: boolean;
    /** How long gauges read from Redis are reused between scrapes. */
    cacheMs: number;
  };
  /** Serve the admin API's OpenAPI document and Swagger UI under /docs. */
  apiDocs: boolean;
  /** Defaults of the per-tenant quotas (an operator may set others per tenant); 0 means no limit. */
  quotas: {
    botsPerTenant: number;
    pendingUpdatesPerBot: number;
    /** Admin API requests per minute of one tenant API key. */
    adminRequestsPerMinute: number;
    /** Admin API requests per minute of one operator key (ADMIN_API_KEYS). */
    operatorRequestsPerMinute: number;
  };
  /** Forwarding of updates to the tenants' own services (see docs/architecture.md, "Destinations"). */
  destinations: {
    /** Deliveries may go to loopback, private and link-local addresses. */
    allowPrivate: boolean;
    /** Addresses or CIDR ranges allowed even when private. */
    allowedIps: string[];
    /** Longest HTTP delivery attempt (at most TELEGRAM_TIMEOUT_MS: a worker's lease covers it the same way). */
    timeoutMs: number;
    /** Waits between attempts; one more attempt than waits, then the delivery is a dead letter. */
    retryScheduleMs: number[];
    /** Failures in a row of one destination that open its circuit breaker (its deliveries pause). */
    breakerFailures: number;
    /** The first pause of an open breaker; doubled at each further failure, up to 10 minutes. */
    breakerCooldownMs: number;
    /** A destination failing for this long without one success is disabled (0: never). */
    disableAfterMs: number;
    /** Attempts kept per destination in its log (replay reads it). */
    logLength: number;
    /** Default length of a stream destination's Redis stream. */
    streamMaxLen: number;
    /** How long a rotated signing secret keeps signing next to the new one. */
    secretOverlapSeconds: number;
  };
  sessionTtlSeconds: number;
  shutdownTimeoutMs: number;
  features: {
    /** The features a bot registered without a list of its own gets (names; checked against the catalog at start). */
    defaultBotFeatures: string[];
    /** Feature modules to load at start: file paths (absolute, or relative to the working directory) or packages. */
    modules: string[];
  };
  /** Set when development keys were generated or loaded from the local keys file. */
  devKeysFile?: string;
  /** True when this load generated the development keys (the file did not exist yet). */
  devKeysCreated?: boolean;
}

/** The only ports Telegram's Bot API posts webhooks to (a local Bot API server allows any). */
export const TELEGRAM_WEBHOOK_PORTS = [443, 80, 88, 8443];

/** Telegram's published webhook source ranges (https://core.telegram.org/bots/webhooks). */
export const TELEGRAM_IP_RANGES = ['149.154.160.0/20', '91.108.4.0/22'];

/** What a feature may be called: it appears in URLs (`/admin/bots/:id/features/:name`) and CLI arguments. */
export const FEATURE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
export const FEATURE_NAME_RULE = 'a lower-case letter, then up to 63 of a-z 0-9 _ -';

/** 25 h: longer than Telegram's 24 h retry window, so a late retry still meets its dedupe key. */
export const SAFE_DEDUPE_TTL_SECONDS = 25 * 3600;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return Number(value);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!allowed.includes(value as T)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
      return fallback;
    }
    return value as T;
  }

  url(name: string, fallback: string | undefined, protocols: string[]): string {
    const value = this.raw(name) ?? fallback;
    if (value === undefined) {
      this.problems.push(`${name} is required`);
      return '';
    }
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      // The value may carry a password: name the variable, never echo it.
      this.problems.push(`${name} must be a ${protocols.join(' or ')} URL`);
    }
    return value.replace(/\/+$/, '');
  }

  list(name: string): string[] {
    return (this.raw(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  }
}

/** Paths the gateway serves itself: the proxy's must not shadow them. */
const RESERVED_PATHS = ['/admin', '/webhook', '/health', '/metrics', '/docs'];

/** PROXY_PATH: one or more path segments, without a trailing slash, outside the gateway's own routes. */
export function parseProxyPath(value: string, problems: string[]): string {
  const path = value.replace(/\/+$/, '');
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(path)) {
    problems.push(`PROXY_PATH must be a path such as /telegram (got "${value}")`);
    return '/telegram';
  }
  const clash = RESERVED_PATHS.find((reserved) => path === reserved || path.startsWith(`${reserved}/`));
  if (clash) {
    problems.push(`PROXY_PATH must not be under ${clash}, which the gateway serves itself (got "${value}")`);
    return '/telegram';
  }
  return path;
}

export function parseCidrList(name: string, items: string[], problems: string[], aliases = true): string[] {
  const out: string[] = [];
  for (const item of items) {
    if (aliases && item.toLowerCase() === 'telegram') {
      out.push(...TELEGRAM_IP_RANGES);
      continue;
    }
    if (!isCidrOrIp(item)) {
      problems.push(
        `${name}: "${item}" is not an IP address or CIDR range${aliases ? ' (or the alias "telegram")' : ''}`,
      );
      continue;
    }
    out.push(item);
  }
  return out;
}

function isCidrOrIp(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || !address) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  const isV4 = !!v4 && v4.slice(1).every((octet) => Number(octet) <= 255);
  const isV6 = !isV4 && address.includes(':') && /^[0-9a-fA-F:.]+$/.test(address);
  if (!isV4 && !isV6) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (isV4 ? 32 : 128);
}

interface DevKeys {
  encryptionKeys: string;
  tokenHashKey: string;
  adminApiKey: string;
}

function loadOrCreateDevKeys(file: string): { keys: DevKeys; created: boolean } {
  if (existsSync(file)) return { keys: JSON.parse(readFileSync(file, 'utf8')) as DevKeys, created: false };
  const keys: DevKeys = {
    encryptionKeys: `dev1:${randomBytes(32).toString('base64')}`,
    tokenHashKey: randomBytes(32).toString('base64'),
    adminApiKey: randomBytes(24).toString('base64url'),
  };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return { keys, created: true };
}

function parseKey(name: string, encoded: string, problems: string[]): Buffer | undefined {
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    problems.push(`${name} must be 32 bytes encoded in base64 (generate one with: openssl rand -base64 32)`);
    return undefined;
  }
  return key;
}

function parseKeyring(value: string, problems: string[]): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf(':');
    const id = separator > 0 ? entry.slice(0, separator) : '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push('TOKEN_ENCRYPTION_KEYS entries must look like <keyId>:<base64 key>, keyId of 1-32 [A-Za-z0-9_-]');
      continue;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`TOKEN_ENCRYPTION_KEYS has the key id "${id}" twice`);
      continue;
    }
    const key = parseKey(`TOKEN_ENCRYPTION_KEYS (key "${id}")`, entry.slice(separator + 1), problems);
    if (key) keys.push({ id, key });
  }
  if (keys.length === 0 && problems.length === 0) problems.push('TOKEN_ENCRYPTION_KEYS has no key');
  return keys;
}

/**
 * Reads and validates the whole configuration at once, so a bad deployment fails at start with every
 * problem named. This is the only place that reads process.env.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const r = new Reader(env);
  const nodeEnv = r.oneOf<NodeEnv>('NODE_ENV', ['development', 'test', 'production'], 'development');
  const production = nodeEnv === 'production';
  const port = r.int('PORT', 3000, 0, 65535);

  let encryptionKeysRaw = r.raw('TOKEN_ENCRYPTION_KEYS');
  let tokenHashKeyRaw = r.raw('TOKEN_HASH_KEY');
  let adminKeysRaw = r.raw('ADMIN_API_KEYS');
  let devKeysFile: string | undefined;
  let devKeysCreated: boolean | undefined;
  if (production) {
    if (!encryptionKeysRaw) r.problems.push('TOKEN_ENCRYPTION_KEYS is required in production');
    if (!tokenHashKeyRaw) r.problems.push('TOKEN_HASH_KEY is required in production');
    if (!adminKeysRaw) r.problems.push('ADMIN_API_KEYS is required in production');
  } else if (!encryptionKeysRaw || !tokenHashKeyRaw || !adminKeysRaw) {
    devKeysFile = resolve(r.string('DEV_KEYS_FILE', '.tg-gateway/dev-keys.json'));
    const { keys: dev, created } = loadOrCreateDevKeys(devKeysFile);
    devKeysCreated = created;
    encryptionKeysRaw ??= dev.encryptionKeys;
    tokenHashKeyRaw ??= dev.tokenHashKey;
    adminKeysRaw ??= dev.adminApiKey;
  }

  const encryptionKeys = encryptionKeysRaw ? parseKeyring(encryptionKeysRaw, r.problems) : [];
  const tokenHashKey = tokenHashKeyRaw ? parseKey('TOKEN_HASH_KEY', tokenHashKeyRaw, r.problems) : undefined;
  if (tokenHashKey && encryptionKeys.some((k) => k.key.equals(tokenHashKey))) {
    r.problems.push('TOKEN_HASH_KEY must differ from every TOKEN_ENCRYPTION_KEYS key');
  }
  const adminApiKeys = (adminKeysRaw ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (adminKeysRaw && adminApiKeys.some((k) => k.length < 16)) {
    r.problems.push('ADMIN_API_KEYS: every key must be at least 16 characters');
  }

  const localDb = 'postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway';
  const telegramTimeoutMs = r.int('TELEGRAM_TIMEOUT_MS', 10_000, 100, 300_000);
  const config: AppConfig = {
    nodeEnv,
    host: r.string('HOST', '0.0.0.0'),
    port,
    workerPort: r.int('WORKER_PORT', 0, 0, 65535),
    logLevel: r.oneOf<LogLevel>(
      'LOG_LEVEL',
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      nodeEnv === 'test' ? 'warn' : 'info',
    ),
    databaseUrl: r.url('DATABASE_URL', production ? undefined : localDb, ['postgres:', 'postgresql:']),
    redisUrl: r.url('REDIS_URL', production ? undefined : 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisPrefix: r.string('REDIS_PREFIX', 'tgw'),
    redisAllowEviction: r.oneOf('REDIS_ALLOW_EVICTION', ['true', 'false'], 'false') === 'true',
    telegramApiRoot: r.url('TELEGRAM_API_ROOT', 'https://api.telegram.org', ['http:', 'https:']),
    publicUrl: r.url('PUBLIC_URL', production ? undefined : `http://localhost:${port}`, ['http:', 'https:']),
    tls: parseTls(r),
    adminApiKeys,
    encryptionKeys,
    tokenHashKey: tokenHashKey ?? Buffer.alloc(0),
    webhook: {
      bodyLimit: r.int('WEBHOOK_BODY_LIMIT', 1024 * 1024, 1024, 50 * 1024 * 1024),
      allowedIps: parseCidrList('WEBHOOK_ALLOWED_IPS', r.list('WEBHOOK_ALLOWED_IPS'), r.problems),
      trustedProxies: parseCidrList('TRUSTED_PROXIES', r.list('TRUSTED_PROXIES'), r.problems, false),
      enqueueTimeoutMs: r.int('ENQUEUE_TIMEOUT_MS', 500, 50, 60_000),
      retryAfterSeconds: r.int('RETRY_AFTER_SECONDS', 5, 1, 3600),
      secretOverlapSeconds: r.int('WEBHOOK_SECRET_OVERLAP_SECONDS', 600, 0, 7 * 24 * 3600),
    },
    botCache: {
      size: r.int('BOT_CACHE_SIZE', 10_000, 1),
      ttlMs: r.int('BOT_CACHE_TTL_MS', 60_000, 1_000),
      negativeSize: r.int('BOT_NEGATIVE_CACHE_SIZE', 10_000, 0),
      negativeTtlMs: r.int('BOT_NEGATIVE_CACHE_TTL_MS', 5_000, 0),
    },
    queue: {
      partitions: r.int('QUEUE_PARTITIONS', 64, 1, 1024),
      dedupeTtlSeconds: r.int('DEDUPE_TTL_SECONDS', SAFE_DEDUPE_TTL_SECONDS, 60),
      attempts: r.int('JOB_ATTEMPTS', 6, 1, 1000),
      backoffMs: r.int('JOB_BACKOFF_MS', 1000, 1),
      backoffMaxMs: r.int('JOB_BACKOFF_MAX_MS', 30_000, 1),
      failedRetentionSeconds: r.int('FAILED_JOB_RETENTION_SECONDS', 7 * 24 * 3600, 0),
    },
    worker: {
      lockDurationMs: r.int('JOB_LOCK_MS', 30_000, 1000, 600_000),
      concurrency: r.int('WORKER_CONCURRENCY', 256, 1, 10_000),
      botMaxInFlight: r.int('BOT_MAX_IN_FLIGHT', 0, 0, 10_000),
      batch: r.int('CONVERSATION_BATCH', 10, 1, 1000),
      albumWaitMs: r.int('ALBUM_WAIT_MS', 1000, 50, 60_000),
    },
    telegramTimeoutMs,
    proxy: {
      path: parseProxyPath(r.string('PROXY_PATH', '/telegram'), r.problems),
      timeoutMs: r.int('PROXY_TIMEOUT_MS', 60_000, 100, 600_000),
      bodyLimit: r.int('PROXY_BODY_LIMIT', 50 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    },
    webhookHealth: {
      intervalMs: r.int('WEBHOOK_HEALTH_INTERVAL_SECONDS', 300, 0, 86_400) * 1000,
      ratePerSecond: r.int('WEBHOOK_HEALTH_RATE', 5, 1, 100),
      repair: r.oneOf('WEBHOOK_HEALTH_REPAIR', ['true', 'false'], 'false') === 'true',
      leaseMs: r.int('WEBHOOK_HEALTH_LEASE_MS', 30_000, 1_000, 600_000),
    },
    metrics: {
      apiKeys: r
        .list('METRICS_API_KEYS')
        .map((k) => k.trim())
        .filter(Boolean),
      public: r.oneOf('METRICS_PUBLIC', ['true', 'false'], production ? 'false' : 'true') === 'true',
      cacheMs: r.int('METRICS_CACHE_MS', 5_000, 0, 300_000),
    },
    apiDocs: r.oneOf('API_DOCS', ['true', 'false'], production ? 'false' : 'true') === 'true',
    quotas: {
      botsPerTenant: r.int('QUOTA_BOTS_PER_TENANT', 100, 0, 1_000_000),
      pendingUpdatesPerBot: r.int('QUOTA_PENDING_UPDATES_PER_BOT', 10_000, 0, 100_000_000),
      adminRequestsPerMinute: r.int('QUOTA_ADMIN_REQUESTS_PER_MINUTE', 600, 0, 1_000_000),
      operatorRequestsPerMinute: r.int('OPERATOR_ADMIN_REQUESTS_PER_MINUTE', 0, 0, 1_000_000),
    },
    destinations: {
      allowPrivate: r.oneOf('DESTINATION_ALLOW_PRIVATE', ['true', 'false'], 'false') === 'true',
      allowedIps: parseCidrList('DESTINATION_ALLOWED_IPS', r.list('DESTINATION_ALLOWED_IPS'), r.problems, false),
      // At most TELEGRAM_TIMEOUT_MS (checked below): by default 10 s, or that when it is lower.
      timeoutMs: r.int('DESTINATION_TIMEOUT_MS', Math.min(10_000, telegramTimeoutMs), 100, 300_000),
      retryScheduleMs: parseSchedule(r, 'DESTINATION_RETRY_SCHEDULE', '5s,5m,30m,2h,5h,10h,10h'),
      breakerFailures: r.int('DESTINATION_BREAKER_FAILURES', 5, 1, 1000),
      breakerCooldownMs: r.int('DESTINATION_BREAKER_COOLDOWN_MS', 30_000, 100, 3_600_000),
      disableAfterMs: r.int('DESTINATION_DISABLE_AFTER_SECONDS', 5 * 24 * 3600, 0) * 1000,
      logLength: r.int('DESTINATION_LOG_LENGTH', 10_000, 10, 10_000_000),
      streamMaxLen: r.int('DESTINATION_STREAM_MAXLEN', 100_000, 10, 100_000_000),
      secretOverlapSeconds: r.int('DESTINATION_SECRET_OVERLAP_SECONDS', 24 * 3600, 0, 30 * 24 * 3600),
    },
    sessionTtlSeconds: r.int('SESSION_TTL_SECONDS', 7 * 24 * 3600, 1),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 15_000, 100),
    features: {
      defaultBotFeatures: r.list('DEFAULT_BOT_FEATURES'),
      modules: r.list('FEATURE_MODULES'),
    },
    devKeysFile,
    devKeysCreated,
  };
  // A worker starts no Bot API call that could outlive its heartbeat (see ConversationWorker), and a graceful
  // shutdown lets the calls in flight finish.
  if (config.worker.lockDurationMs < 2 * config.telegramTimeoutMs + 1000) {
    r.problems.push('JOB_LOCK_MS must be at least 2 × TELEGRAM_TIMEOUT_MS + 1000');
  }
  if (config.shutdownTimeoutMs < config.telegramTimeoutMs + 2000) {
    r.problems.push(
      'SHUTDOWN_TIMEOUT_MS must be at least TELEGRAM_TIMEOUT_MS + 2000, so that no Bot API call is cut short',
    );
  }
  if (config.destinations.timeoutMs > config.telegramTimeoutMs) {
    r.problems.push('DESTINATION_TIMEOUT_MS must be at most TELEGRAM_TIMEOUT_MS (a worker lease covers either)');
  }
  if (config.metrics.apiKeys.some((k) => k.length < 16)) {
    r.problems.push('METRICS_API_KEYS: every key must be at least 16 characters');
  }
  const allowHttpApiRoot = r.oneOf('TELEGRAM_API_ROOT_ALLOW_HTTP', ['true', 'false'], 'false') === 'true';
  if (!allowHttpApiRoot && isClearTextToAnotherHost(config.telegramApiRoot)) {
    // Every Bot API call carries a bot token in its path.
    r.problems.push(
      'TELEGRAM_API_ROOT must be https: (or http: to a loopback address): bot tokens would cross the network in ' +
        'clear text. Set TELEGRAM_API_ROOT_ALLOW_HTTP=true if that network is trusted',
    );
  }
  const badNames = config.features.defaultBotFeatures.filter((name) => !FEATURE_NAME.test(name));
  if (badNames.length > 0) {
    r.problems.push(
      `DEFAULT_BOT_FEATURES: ${badNames.map((n) => `"${n}"`).join(', ')} is not a feature name (${FEATURE_NAME_RULE})`,
    );
  }
  if (new Set(config.features.defaultBotFeatures).size !== config.features.defaultBotFeatures.length) {
    r.problems.push('DEFAULT_BOT_FEATURES names a feature twice');
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(config.redisPrefix)) {
    r.problems.push('REDIS_PREFIX must be 1-64 characters of [A-Za-z0-9_.-]');
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A list of durations like `5s,5m,30m,2h`, in ms. */
function parseSchedule(r: Reader, name: string, fallback: string): number[] {
  const items = (r.raw(name) ?? fallback).split(',').map((item) => item.trim());
  const out: number[] = [];
  for (const item of items) {
    const match = /^(\d+)(ms|s|m|h)$/.exec(item);
    if (!match) {
      r.problems.push(`${name}: "${item}" is not a duration like 500ms, 5s, 5m or 2h`);
      continue;
    }
    out.push(Number(match[1]) * DURATION_UNITS[match[2]]);
  }
  if (out.length === 0 || out.length > 50) r.problems.push(`${name} must list 1 to 50 durations`);
  return out;
}

function parseTls(r: Reader): AppConfig['tls'] {
  const certFile = r.raw('TLS_CERT_FILE');
  const keyFile = r.raw('TLS_KEY_FILE');
  const reloadIntervalMs = r.int('TLS_RELOAD_INTERVAL_MS', 60_000, 100, 24 * 3600_000);
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) {
    r.problems.push(
      `TLS_CERT_FILE and TLS_KEY_FILE go together: set both to serve HTTPS, or neither (only ${certFile ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE'} is set)`,
    );
    return undefined;
  }
  return { certFile: resolve(certFile), keyFile: resolve(keyFile), reloadIntervalMs };
}

/**
 * Why Telegram would refuse or never reach PUBLIC_URL, as warnings for the start log (not errors: a local Bot API
 * server accepts any port and plain HTTP, and a process that only runs workers never receives a webhook).
 */
export function publicUrlWarnings(config: AppConfig): string[] {
  if (!isOfficialBotApi(config.telegramApiRoot)) return [];
  const url = new URL(config.publicUrl);
  // The development default (http://localhost:<PORT>) is not meant for Telegram; a tunnel's URL is https.
  if (url.protocol !== 'https:' && config.nodeEnv !== 'production' && !config.tls) return [];
  const warnings: string[] = [];
  if (url.protocol !== 'https:') {
    warnings.push(`PUBLIC_URL is not https: Telegram posts webhooks over HTTPS only, so setWebhook will be refused`);
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (!TELEGRAM_WEBHOOK_PORTS.includes(port)) {
    warnings.push(
      `PUBLIC_URL has port ${port}, but Telegram posts webhooks to ports ${TELEGRAM_WEBHOOK_PORTS.join(', ')} only: ` +
        'setWebhook will be refused. Put a reverse proxy or a port mapping on one of them in front of PORT',
    );
  }
  return warnings;
}

function isOfficialBotApi(apiRoot: string): boolean {
  try {
    return new URL(apiRoot).hostname.toLowerCase() === 'api.telegram.org';
  } catch {
    return false;
  }
}

function isClearTextToAnotherHost(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false; // already reported
  }
  if (parsed.protocol !== 'http:') return false;
  const host = parsed.hostname.toLowerCase();
  return !(host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host));
}

/** What `db:migrate` needs: only the database, so a migration step can run without the key material. */
export function loadDatabaseUrl(env: Env = process.env): string {
  const r = new Reader(env);
  const production =
    r.oneOf<NodeEnv>('NODE_ENV', ['development', 'test', 'production'], 'development') === 'production';
  const url = r.url(
    'DATABASE_URL',
    production ? undefined : 'postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway',
    ['postgres:', 'postgresql:'],
  );
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return url;
}
