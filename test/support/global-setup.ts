import { Redis } from 'ioredis';
import { migrate, redactDatabaseUrl } from '../../src/infra/database/migrator';

/**
 * Vitest globalSetup: runs once before any test file. Migrates the test database (creating it if needed) and
 * makes sure Redis answers, so a missing service fails the run at once with one clear message instead of every
 * test timing out. The resolved URLs are put in process.env, which the test workers inherit.
 */
const DEFAULT_TEST_DATABASE_URL = 'postgresql://postgres:postgres@127.0.0.1:5432/tg_gateway_test';
const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';
const HOW_TO_START = 'Start local PostgreSQL and Redis with: bash scripts/ensure-services.sh';

export default async function setup(): Promise<() => Promise<void>> {
  const databaseUrl = process.env.TEST_DATABASE_URL?.trim() || DEFAULT_TEST_DATABASE_URL;
  const redisUrl = process.env.TEST_REDIS_URL?.trim() || DEFAULT_TEST_REDIS_URL;
  process.env.TEST_DATABASE_URL = databaseUrl;
  process.env.TEST_REDIS_URL = redisUrl;

  const [database, redis] = await Promise.allSettled([prepareDatabase(databaseUrl), pingRedis(redisUrl)]);
  const problems: string[] = [];
  if (database.status === 'rejected') {
    problems.push(`PostgreSQL (TEST_DATABASE_URL=${redactDatabaseUrl(databaseUrl)}): ${reason(database.reason)}`);
  }
  if (redis.status === 'rejected') {
    problems.push(`Redis (TEST_REDIS_URL=${redactDatabaseUrl(redisUrl)}): ${reason(redis.reason)}`);
  }
  if (problems.length > 0) {
    throw new Error(`Test services are not usable:\n  - ${problems.join('\n  - ')}\n${HOW_TO_START}`);
  }

  return async () => {
    // Nothing to tear down: the test database is kept (and re-migrated) between runs; tests clean their own data.
  };
}

async function prepareDatabase(databaseUrl: string): Promise<void> {
  await migrate(databaseUrl);
}

async function pingRedis(redisUrl: string): Promise<void> {
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const reply: string = await redis.ping();
    if (reply !== 'PONG') throw new Error(`PING answered ${reply}`);
  } finally {
    redis.disconnect();
  }
}

function reason(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map((e) => reason(e)).join('; ');
  }
  if (error instanceof Error) return error.message || (error as { code?: string }).code || error.name;
  return String(error);
}
