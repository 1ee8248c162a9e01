import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, publicUrlWarnings, SAFE_DEDUPE_TTL_SECONDS, TELEGRAM_IP_RANGES } from './config';

const key = () => randomBytes(32).toString('base64');
const keys = () => ({
  TOKEN_ENCRYPTION_KEYS: `k2:${key()},k1:${key()}`,
  TOKEN_HASH_KEY: key(),
  ADMIN_API_KEYS: 'a-long-enough-admin-key',
});

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has working local defaults', () => {
    const config = loadConfig({ ...keys() });
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBe('postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.telegramApiRoot).toBe('https://api.telegram.org');
    expect(config.webhook.bodyLimit).toBe(1024 * 1024);
    expect(config.queue.dedupeTtlSeconds).toBeGreaterThanOrEqual(25 * 3600);
    expect(config.encryptionKeys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(config.devKeysFile).toBeUndefined();
  });

  it('refuses a shutdown timeout that could cut a Bot API call short', () => {
    const timeouts = (shutdown: number) => ({
      ...keys(),
      TELEGRAM_TIMEOUT_MS: '10000',
      SHUTDOWN_TIMEOUT_MS: String(shutdown),
    });
    expect(problemsOf(timeouts(11_999))).toContain(
      'SHUTDOWN_TIMEOUT_MS must be at least TELEGRAM_TIMEOUT_MS + 2000, so that no Bot API call is cut short',
    );
    expect(loadConfig(timeouts(12_000)).shutdownTimeoutMs).toBe(12_000);
    const defaults = loadConfig({ ...keys() });
    expect(defaults.shutdownTimeoutMs).toBeGreaterThanOrEqual(defaults.telegramTimeoutMs + 2000);
  });

  it('names every bad variable at once, without echoing secret values', () => {
    const problems = problemsOf({
      ...keys(),
      PORT: 'eighty',
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      WEBHOOK_BODY_LIMIT: '-5',
      TOKEN_HASH_KEY: 'short',
      WEBHOOK_ALLOWED_IPS: 'telegram,not-an-ip',
    });
    const text = problems.join('\n');
    for (const name of ['PORT', 'DATABASE_URL', 'WEBHOOK_BODY_LIMIT', 'TOKEN_HASH_KEY', 'WEBHOOK_ALLOWED_IPS']) {
      expect(text).toContain(name);
    }
    expect(text).not.toContain('hunter2');
    expect(problems).toHaveLength(5);
  });

  it('requires key material and service URLs in production', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    const text = problems.join('\n');
    for (const name of [
      'TOKEN_ENCRYPTION_KEYS',
      'TOKEN_HASH_KEY',
      'ADMIN_API_KEYS',
      'DATABASE_URL',
      'REDIS_URL',
      'PUBLIC_URL',
    ]) {
      expect(text).toContain(name);
    }
  });

  it('generates and persists development keys outside production', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tgw-config-')), 'keys.json');
    const first = loadConfig({ DEV_KEYS_FILE: file });
    expect(first.devKeysFile).toBe(file);
    expect(first.devKeysCreated).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o077).toBe(0);
    const second = loadConfig({ DEV_KEYS_FILE: file });
    expect(second.devKeysCreated).toBe(false);
    expect(second.encryptionKeys[0].key.equals(first.encryptionKeys[0].key)).toBe(true);
    expect(second.tokenHashKey.equals(first.tokenHashKey)).toBe(true);
    expect(second.adminApiKeys).toEqual(first.adminApiKeys);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('tokenHashKey');
  });

  it('refuses a hash key equal to an encryption key, and duplicate key ids', () => {
    const shared = key();
    expect(problemsOf({ ...keys(), TOKEN_ENCRYPTION_KEYS: `a:${shared}`, TOKEN_HASH_KEY: shared }).join()).toContain(
      'TOKEN_HASH_KEY must differ',
    );
    expect(problemsOf({ ...keys(), TOKEN_ENCRYPTION_KEYS: `a:${key()},a:${key()}` }).join()).toContain('twice');
  });

  it('expands the "telegram" alias of the IP allowlist', () => {
    const config = loadConfig({ ...keys(), WEBHOOK_ALLOWED_IPS: 'telegram, 10.0.0.0/8' });
    expect(config.webhook.allowedIps).toEqual([...TELEGRAM_IP_RANGES, '10.0.0.0/8']);
  });

  it('defaults the dedupe TTL to 25 hours and refuses one under a minute', () => {
    expect(loadConfig(keys()).queue.dedupeTtlSeconds).toBe(SAFE_DEDUPE_TTL_SECONDS);
    expect(loadConfig({ ...keys(), DEDUPE_TTL_SECONDS: '3600' }).queue.dedupeTtlSeconds).toBe(3600);
    expect(problemsOf({ ...keys(), DEDUPE_TTL_SECONDS: '59' }).join()).toContain('DEDUPE_TTL_SECONDS');
  });

  it('refuses a clear-text TELEGRAM_API_ROOT to another host unless TELEGRAM_API_ROOT_ALLOW_HTTP=true', () => {
    const production = { ...keys(), NODE_ENV: 'production', DATABASE_URL: 'postgresql://db/x', REDIS_URL: 'redis://r' };
    const env = { ...production, PUBLIC_URL: 'https://gw.example.com' };
    for (const root of ['http://bot-api.internal:8081', 'http://203.0.113.5', 'http://[2001:db8::1]:8081']) {
      const text = problemsOf({ ...env, TELEGRAM_API_ROOT: root }).join('\n');
      expect(text).toContain('TELEGRAM_API_ROOT_ALLOW_HTTP');
      expect(problemsOf({ ...keys(), TELEGRAM_API_ROOT: root }).join()).toContain('TELEGRAM_API_ROOT');
      const allowed = loadConfig({ ...env, TELEGRAM_API_ROOT: root, TELEGRAM_API_ROOT_ALLOW_HTTP: 'true' });
      expect(allowed.telegramApiRoot).toBe(root);
    }
    // Loopback never leaves the machine (a local Bot API server, the tests' fake), and https is always fine.
    for (const root of ['http://127.0.0.1:8081', 'http://localhost:8081', 'http://[::1]:8081', 'https://203.0.113.5']) {
      expect(loadConfig({ ...env, TELEGRAM_API_ROOT: root }).telegramApiRoot).toBe(root);
    }
    expect(problemsOf({ ...env, TELEGRAM_API_ROOT_ALLOW_HTTP: 'yes' }).join()).toContain(
      'TELEGRAM_API_ROOT_ALLOW_HTTP',
    );
  });

  it('serves the Bot API proxy under PROXY_PATH, outside the routes of the gateway itself', () => {
    expect(loadConfig({ ...keys() }).proxy).toEqual({
      path: '/telegram',
      timeoutMs: 60_000,
      bodyLimit: 50 * 1024 * 1024,
    });
    expect(loadConfig({ ...keys(), PROXY_PATH: '/bot-api/v1/' }).proxy.path).toBe('/bot-api/v1');
    expect(problemsOf({ ...keys(), PROXY_PATH: 'telegram' })).toEqual([
      'PROXY_PATH must be a path such as /telegram (got "telegram")',
    ]);
    expect(problemsOf({ ...keys(), PROXY_PATH: '/webhook/tg' })).toEqual([
      'PROXY_PATH must not be under /webhook, which the gateway serves itself (got "/webhook/tg")',
    ]);
    expect(problemsOf({ ...keys(), PROXY_PATH: '/' })[0]).toContain('PROXY_PATH must be a path');
  });
});

describe('TLS settings and PUBLIC_URL', () => {
  it('takes both TLS files or neither, with a reload interval', () => {
    expect(loadConfig({ ...keys() }).tls).toBeUndefined();
    const tls = loadConfig({ ...keys(), TLS_CERT_FILE: '/etc/tls/c.pem', TLS_KEY_FILE: '/etc/tls/k.pem' }).tls;
    expect(tls).toEqual({ certFile: '/etc/tls/c.pem', keyFile: '/etc/tls/k.pem', reloadIntervalMs: 60_000 });
    expect(problemsOf({ ...keys(), TLS_CERT_FILE: '/etc/tls/c.pem' })).toEqual([
      'TLS_CERT_FILE and TLS_KEY_FILE go together: set both to serve HTTPS, or neither (only TLS_CERT_FILE is set)',
    ]);
    expect(problemsOf({ ...keys(), TLS_RELOAD_INTERVAL_MS: '5' }).join()).toContain('TLS_RELOAD_INTERVAL_MS');
  });

  it("warns when Telegram would refuse PUBLIC_URL's port or scheme", () => {
    const warn = (env: Record<string, string>) => publicUrlWarnings(loadConfig({ ...keys(), ...env }));
    for (const url of ['https://gw.example.com', 'https://gw.example.com:8443', 'https://gw.example.com:88']) {
      expect(warn({ PUBLIC_URL: url })).toEqual([]);
    }
    expect(warn({ PUBLIC_URL: 'https://gw.example.com:3000' })).toEqual([
      expect.stringMatching(/^PUBLIC_URL has port 3000, but Telegram posts webhooks to ports 443, 80, 88, 8443 only/),
    ]);
    expect(warn({ NODE_ENV: 'production', PUBLIC_URL: 'http://gw.example.com', ...productionBasics() })).toEqual([
      expect.stringMatching(/^PUBLIC_URL is not https/),
    ]);
    // The development default is not meant for Telegram; a local Bot API server takes any port and plain HTTP.
    expect(warn({})).toEqual([]);
    expect(warn({ PUBLIC_URL: 'https://gw.example.com:3000', TELEGRAM_API_ROOT: 'http://127.0.0.1:8081' })).toEqual([]);
  });
});

function productionBasics(): Record<string, string> {
  return { DATABASE_URL: 'postgresql://db/tg', REDIS_URL: 'redis://redis:6379' };
}
