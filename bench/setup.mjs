// Set-up and clean-up steps of bench/run.sh that need the gateway's own code or its drivers.
//
//   node bench/setup.mjs register <count> <out.json>
//       Registers <count> fake bots through the gateway's BotRegistryService (compiled code from BENCH_DIST,
//       default dist/) and writes [{ id, telegramId, token, secret }] to <out.json>. Configuration comes from the
//       environment, exactly as for the gateway (DATABASE_URL, REDIS_URL, REDIS_PREFIX, keys...).
//   node bench/setup.mjs cleanup [bots.json]
//       Deletes the bots listed in bots.json (if given and present), every Redis key of REDIS_PREFIX
//       (SCAN + DEL `<prefix>:*`), and drops the database of DATABASE_URL when BENCH_DROP_DATABASE=1.
//       Each step runs even when an earlier one failed; the exit code says whether all of them worked.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';

const require = createRequire(import.meta.url);
const dist = resolve(process.env.BENCH_DIST ?? new URL('../dist', import.meta.url).pathname);

const [command, ...args] = process.argv.slice(2);

if (command === 'register') {
  await register(Number(args[0]), args[1]);
} else if (command === 'cleanup') {
  process.exitCode = (await cleanup(args[0])) ? 0 : 1;
} else {
  console.error('usage: node bench/setup.mjs register <count> <out.json> | cleanup [bots.json]');
  process.exitCode = 2;
}

function fakeToken(telegramId) {
  return `${telegramId}:${randomBytes(27).toString('base64url').slice(0, 35)}`;
}

async function register(count, outFile) {
  if (!Number.isInteger(count) || count < 1 || !outFile) throw new Error('register needs <count> and <out.json>');
  const { createApp } = require(`${dist}/bootstrap`);
  const { loadConfig } = require(`${dist}/config/config`);
  const { BotRegistryService } = require(`${dist}/bots/bot-registry.service`);
  const app = await createApp({ role: 'api', config: loadConfig(process.env) });
  await app.init();
  const bots = [];
  try {
    const registry = app.get(BotRegistryService);
    // Random Telegram ids, so that a database shared with other runs does not hit the unique index.
    const base = 7_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
    for (let i = 0; i < count; i++) {
      const telegramId = base + i;
      const token = fakeToken(telegramId);
      const record = await registry.register({
        token,
        name: `bench bot ${i + 1}`,
        botInfo: {
          id: telegramId,
          is_bot: true,
          first_name: `Bench ${i + 1}`,
          username: `bench_${telegramId}_bot`,
          can_join_groups: true,
          can_read_all_group_messages: false,
          supports_inline_queries: false,
          can_connect_to_business: false,
          has_main_web_app: false,
        },
      });
      bots.push({ id: record.id, telegramId, token, secret: registry.webhookSecretOf(record) });
      // Written after every bot, so that a failure half-way still leaves the list the clean-up needs.
      writeFileSync(outFile, JSON.stringify(bots, null, 2) + '\n', { mode: 0o600 });
    }
  } finally {
    await app.close();
  }
  console.log(`registered ${bots.length} bench bot(s)`);
}

async function cleanup(botsFile) {
  let ok = true;
  const step = async (name, run) => {
    try {
      const message = await run();
      if (message) console.log(`cleanup: ${message}`);
    } catch (error) {
      ok = false;
      console.error(`cleanup: ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const databaseUrl = process.env.DATABASE_URL;
  if (botsFile && existsSync(botsFile) && databaseUrl) {
    await step('deleting the bench bots', async () => {
      const ids = JSON.parse(readFileSync(botsFile, 'utf8')).map((bot) => bot.id);
      if (ids.length === 0) return undefined;
      const count = await withPg(databaseUrl, async (client) => {
        const result = await client.query('DELETE FROM bots WHERE id = ANY($1::uuid[])', [ids]);
        return result.rowCount;
      });
      return `deleted ${count} bench bot row(s)`;
    });
  }
  if (process.env.REDIS_PREFIX && process.env.REDIS_URL) {
    await step('deleting Redis keys', () => deleteRedisKeys(process.env.REDIS_URL, process.env.REDIS_PREFIX));
  }
  if (process.env.BENCH_DROP_DATABASE === '1' && databaseUrl) {
    await step('dropping the bench database', () => dropDatabase(databaseUrl));
  }
  return ok;
}

async function withPg(connectionString, use) {
  const { Client } = require('pg');
  const client = new Client({ connectionString, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function dropDatabase(databaseUrl) {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^tg_gateway_bench[A-Za-z0-9_]*$/.test(name)) {
    throw new Error(`refusing to drop "${name}": only databases named tg_gateway_bench* are dropped`);
  }
  url.pathname = '/postgres';
  url.search = '';
  await withPg(url.toString(), (client) => client.query(`DROP DATABASE IF EXISTS "${name}"`));
  return `dropped database ${name}`;
}

async function deleteRedisKeys(redisUrl, prefix) {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new Error('REDIS_PREFIX has unexpected characters');
  const { Redis } = require('ioredis');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, connectTimeout: 2_000, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return `deleted ${deleted} Redis key(s) under ${prefix}:*`;
  } finally {
    redis.disconnect();
  }
}
