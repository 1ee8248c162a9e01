// Set-up and clean-up steps of bench/run.sh that need the gateway's own code or its drivers.
//
//   node bench/setup.mjs register <count> <out.json>
//       Registers <count> fake bots through the gateway's BotRegistryService (compiled code from BENCH_DIST,
//       default dist/) and writes [{ id, telegramId, token, secret }] to <out.json>. Configuration comes from the
//       environment, exactly as for the gateway (DATABASE_URL, REDIS_URL, REDIS_PREFIX, keys...).
//   node bench/setup.mjs register-bulk <count> <out.json>
//       The same for many bots at once (bench/resources.mjs registers 100,000 in ~15 s): builds each row as
//       BotRegistryService.register does (the gateway's own Keyring and blind index from BENCH_DIST), without a
//       Nest application, and inserts BULK_BATCH rows per statement through pg (the driver under the gateway's
//       Prisma adapter; Prisma's createMany took ten times as long). Nothing to invalidate: no gateway process can
//       have looked these tokens up yet. The rows are named `bench bulk <REDIS_PREFIX> <n>`, so that `cleanup`
//       finds them even without the file. Writes [{ id, telegramId, token, secret }] (mode 0600) to <out.json>;
//       never prints a token.
//   node bench/setup.mjs cleanup [bots.json ...]
//       Deletes the bots listed in the given files (those present), the bulk bots of REDIS_PREFIX, every Redis
//       key of REDIS_PREFIX (SCAN + DEL `<prefix>:*`), and drops the database of DATABASE_URL when
//       BENCH_DROP_DATABASE=1. Each step runs even when an earlier one failed; the exit code says whether all of
//       them worked.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';

const require = createRequire(import.meta.url);
const dist = resolve(process.env.BENCH_DIST ?? new URL('../dist', import.meta.url).pathname);

const [command, ...args] = process.argv.slice(2);

/** Rows per INSERT of register-bulk (one array parameter per column, so no limit on bind parameters). */
const BULK_BATCH = 2_000;

if (command === 'register') {
  await register(Number(args[0]), args[1]);
} else if (command === 'register-bulk') {
  await registerBulk(Number(args[0]), args[1]);
} else if (command === 'cleanup') {
  process.exitCode = (await cleanup(args)) ? 0 : 1;
} else {
  console.error(
    'usage: node bench/setup.mjs register <count> <out.json> | register-bulk <count> <out.json> | cleanup [bots.json ...]',
  );
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
  // Every built-in feature, in order, as the comparators run them (a new bot's default list is empty).
  const { builtInFeatures } = require(`${dist}/handlers/features`);
  const features = builtInFeatures.map((feature) => ({ name: feature.name }));
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
        features,
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

function bulkNamePrefix(redisPrefix) {
  return `bench bulk ${redisPrefix} `;
}

function botInfoOf(telegramId, n) {
  return {
    id: telegramId,
    is_bot: true,
    first_name: `Bench ${n}`,
    username: `bench_${telegramId}_bot`,
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
  };
}

async function registerBulk(count, outFile) {
  if (!Number.isInteger(count) || count < 1 || !outFile) throw new Error('register-bulk needs <count> and <out.json>');
  const redisPrefix = process.env.REDIS_PREFIX;
  if (!redisPrefix) throw new Error('register-bulk needs REDIS_PREFIX (it names the rows, for the clean-up)');
  const started = Date.now();
  const { loadConfig } = require(`${dist}/config/config`);
  const { Keyring, tokenBlindIndex, generateWebhookSecret } = require(`${dist}/bots/token-crypto`);
  const config = loadConfig(process.env);
  const keyring = new Keyring(config.encryptionKeys);
  const bots = [];
  // Random Telegram ids (a block of its own), so that a database shared with other runs does not hit the unique
  // index; the block starts above the one `register` uses.
  const base = 9_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  const namePrefix = bulkNamePrefix(redisPrefix);
  // Every built-in feature, as `register` gives its bots (a new bot's default list is empty).
  const { builtInFeatures } = require(`${dist}/handlers/features`);
  const features = builtInFeatures.map((feature) => ({ name: feature.name }));
  try {
    // Plain SQL through pg (the driver under the gateway's Prisma adapter): Prisma's createMany took ~1 ms per
    // row here, this ~0.1 ms. One INSERT … SELECT FROM unnest(<one array per column>) per batch.
    await withPg(config.databaseUrl, async (client) => {
      for (let from = 0; from < count; from += BULK_BATCH) {
        const columns = Array.from({ length: 10 }, () => []);
        const batch = [];
        for (let i = from; i < Math.min(count, from + BULK_BATCH); i++) {
          const telegramId = base + i;
          const token = fakeToken(telegramId);
          const secret = generateWebhookSecret();
          const botInfo = botInfoOf(telegramId, i + 1);
          const id = randomUUID();
          // The row BotRegistryService.register writes (see dist/bots/bot-registry.service.js).
          const row = [
            id,
            String(telegramId),
            botInfo.username,
            botInfo.first_name,
            `${namePrefix}${i + 1}`,
            JSON.stringify(botInfo),
            keyring.encrypt(token, 'bot-token', id),
            keyring.primaryKeyId,
            tokenBlindIndex(config.tokenHashKey, token),
            keyring.encrypt(secret, 'webhook-secret', id),
          ];
          row.forEach((value, column) => columns[column].push(value));
          batch.push({ id, telegramId, token, secret });
        }
        await client.query(
          `INSERT INTO bots (id, telegram_id, username, username_lower, first_name, name, bot_info, token_ciphertext,
             token_key_id, token_hash, webhook_secret_ciphertext, updated_at, features)
           SELECT id, telegram_id, username, lower(username), first_name, name, bot_info, token_ciphertext,
             token_key_id, token_hash, webhook_secret_ciphertext, now(), $11::jsonb
           FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bytea[],
             $8::text[], $9::bytea[], $10::bytea[])
             AS t(id, telegram_id, username, first_name, name, bot_info, token_ciphertext, token_key_id,
               token_hash, webhook_secret_ciphertext)`,
          [...columns, JSON.stringify(features)],
        );
        bots.push(...batch);
      }
    });
  } finally {
    // Whatever was inserted is listed (cleanup finds the rows by name anyway).
    writeFileSync(outFile, JSON.stringify(bots) + '\n', { mode: 0o600 });
    chmodSync(outFile, 0o600);
  }
  console.log(`registered ${bots.length} bulk bench bot(s) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function cleanup(botsFiles) {
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
  for (const botsFile of botsFiles) {
    if (!existsSync(botsFile) || !databaseUrl) continue;
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
  const redisPrefix = process.env.REDIS_PREFIX;
  if (redisPrefix && databaseUrl) {
    await step('deleting the bulk bench bots', async () => {
      const count = await withPg(databaseUrl, async (client) => {
        // The bots table may not exist (migration failed): nothing to delete then.
        const exists = await client.query(`SELECT to_regclass('bots') IS NOT NULL AS present`);
        if (!exists.rows[0].present) return 0;
        // starts_with, not LIKE: the prefix may contain '_', a LIKE wildcard.
        const result = await client.query('DELETE FROM bots WHERE starts_with(name, $1)', [
          bulkNamePrefix(redisPrefix),
        ]);
        return result.rowCount;
      });
      return count > 0 ? `deleted ${count} bulk bench bot row(s)` : undefined;
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
