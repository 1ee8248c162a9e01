import { randomBytes } from 'node:crypto';
import { createServer, Server, Socket } from 'node:net';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BotRegistryService } from '../src/bots/bot-registry.service';
import { BotRepository } from '../src/bots/bot.repository';
import { PrismaService } from '../src/infra/database/prisma.service';
import { conversationKey, MailboxEntry } from '../src/updates/update-queue';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, jsonOf, RegisteredBot, waitUntil } from './support/harness';
import { alice, callbackQueryUpdate, futureKindUpdate, textUpdate } from './support/updates';

describe('POST /webhook/:token (ingress only)', () => {
  let gw: Harness;
  let bot: RegisteredBot;

  beforeAll(async () => {
    gw = await Harness.start({ role: 'api' });
    bot = await gw.registerBot();
  });

  afterAll(async () => {
    await gw.close();
  });

  /** The updates waiting in the bot's mailboxes (this gateway runs no worker: nothing leaves them). */
  const queuedOf = (botId: string) => gw.queued(botId);
  /** The dedupe keys of every bot, without the prefix. */
  const dedupeKeys = () => gw.keys('dd:*');

  it("stores the update in its conversation's mailbox and answers 200 with an empty body", async () => {
    const update = textUpdate(alice, 'hi');
    const before = Date.now();
    const res = await gw.deliver(bot, update);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    const entries = await queuedOf(bot.record.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toEqual({ id: `${bot.record.id}-${update.update_id}`, at: expect.any(Number), update });
    expect(entries[0].at).toBeGreaterThanOrEqual(before - 1_000);
    expect(entries[0].at).toBeLessThanOrEqual(Date.now() + 1_000);
    // In the mailbox of its chat, and that conversation is ready for a worker.
    const ck = conversationKey(update as never);
    expect(ck).toBe(`c${alice.id}`);
    expect(await gw.keys(`mb:${bot.record.id}:*`)).toEqual([`mb:${bot.record.id}:${ck}`]);
    expect(await gw.redis.lrange(`${gw.config.redisPrefix}:rdy:${bot.record.id}`, 0, -1)).toEqual([ck]);
  });

  it('keeps the token and the secret out of the mailbox entries and of every Redis key and value', async () => {
    const update = textUpdate(alice, 'secret check');
    await gw.deliver(bot, update);
    const dumps = new Map<string, string>();
    for (const key of await gw.keys()) {
      const full = `${gw.config.redisPrefix}:${key}`;
      expect(full).not.toContain(bot.token);
      const type = await gw.redis.type(full);
      const dump =
        type === 'hash'
          ? JSON.stringify(await gw.redis.hgetall(full))
          : type === 'string'
            ? ((await gw.redis.get(full)) ?? '')
            : type === 'list'
              ? JSON.stringify(await gw.redis.lrange(full, 0, -1))
              : type === 'set'
                ? JSON.stringify(await gw.redis.smembers(full))
                : type === 'zset'
                  ? JSON.stringify(await gw.redis.zrange(full, '0', '-1'))
                  : `<${type}>`;
      expect(dump, key).not.toMatch(/^<(?!none>)/);
      dumps.set(key, dump);
      expect(dump).not.toContain(bot.token);
      expect(dump).not.toContain(bot.token.split(':')[1]);
      expect(dump).not.toContain(bot.secret);
    }
    // The check did read the stored update itself.
    expect([...dumps.values()].some((dump) => dump.includes('secret check'))).toBe(true);
  });

  it('accepts a duplicate with 200 without enqueueing it again', async () => {
    const other = await gw.registerBot();
    const update = textUpdate(alice, 'once');
    expect((await gw.deliver(other, update)).status).toBe(200);
    expect((await gw.deliver(other, update)).status).toBe(200);
    expect((await gw.deliver(other, { ...update })).status).toBe(200);
    expect((await queuedOf(other.record.id)).map((e) => e.update)).toEqual([update]);
    expect(await gw.keys(`dd:${other.record.id}:*`)).toEqual([`dd:${other.record.id}:${update.update_id}`]);
    // The same update_id from another bot is a different update.
    expect((await gw.deliver(bot, { ...update })).status).toBe(200);
    expect((await queuedOf(bot.record.id)).some((e) => e.update.update_id === update.update_id)).toBe(true);
  });

  it('stores each update of a concurrent burst exactly once, duplicates sent at the same moment included', async () => {
    const other = await gw.registerBot();
    // Enqueues are batched per event-loop turn into one Redis pipeline: copies of one update in the same batch
    // must still be told apart from the first.
    const updates = Array.from({ length: 150 }, (_, i) => textUpdate(alice, `burst ${i}`, { chatId: 5000 + (i % 40) }));
    const outcomes = async () => {
      const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
      const count = (outcome: string) =>
        Number(new RegExp(`tg_gateway_webhook_requests_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { accepted: count('accepted'), duplicate: count('duplicate') };
    };
    const before = await outcomes();
    const deliveries = [...updates, ...updates, ...updates].map((update) => gw.deliver(other, update));
    const statuses = await Promise.all(deliveries.map(async (res) => (await res).status));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const entries = await queuedOf(other.record.id);
    expect(entries.map((e) => e.update.update_id).sort()).toEqual(updates.map((u) => u.update_id).sort());
    // Each chat's mailbox holds its own updates, each once (concurrent requests: in no particular order).
    for (let chat = 0; chat < 40; chat++) {
      const mailbox = await gw.redis.lrange(`${gw.config.redisPrefix}:mb:${other.record.id}:c${5000 + chat}`, 0, -1);
      const ids = mailbox.map((raw) => (JSON.parse(raw) as { update: { update_id: number } }).update.update_id);
      const expected = updates.filter((_, i) => i % 40 === chat).map((u) => u.update_id);
      expect(ids.sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
    }
    const after = await outcomes();
    expect({ accepted: after.accepted - before.accepted, duplicate: after.duplicate - before.duplicate }).toEqual({
      accepted: 150,
      duplicate: 300,
    });
  });

  it('keeps the dedupe key for at least 25 hours', async () => {
    const update = textUpdate(alice, 'ttl');
    await gw.deliver(bot, update);
    const key = `dd:${bot.record.id}:${update.update_id}`;
    expect(await gw.keys(key)).toEqual([key]);
    const ttl = await gw.redis.pttl(`${gw.config.redisPrefix}:${key}`);
    expect(ttl).toBeGreaterThan(25 * 3600 * 1000 - 60_000);
  });

  it('accepts kinds of update it does not know yet', async () => {
    expect((await gw.deliver(bot, futureKindUpdate())).status).toBe(200);
    expect((await gw.deliver(bot, callbackQueryUpdate(alice))).status).toBe(200);
  });

  it('answers 404 for an unknown token, with nothing enqueued', async () => {
    const { token } = gw.telegram.addBot();
    const before = { queued: await gw.queued(), dedupe: await dedupeKeys() };
    const update = textUpdate(alice, 'x');
    const res = await gw.post(token, update, { secret: bot.secret });
    expect(res.status).toBe(404);
    expect(await jsonOf(res)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'Unknown bot',
      code: 'bot_not_found',
    });
    expect(await gw.queued()).toEqual(before.queued);
    expect((await dedupeKeys()).sort()).toEqual(before.dedupe.sort());
    expect((await dedupeKeys()).some((k) => k.endsWith(`:${update.update_id}`))).toBe(false);
  });

  it('answers 404 for a disabled bot', async () => {
    const disabled = await gw.registerBot();
    await gw.app.get(PrismaService).bot.update({ where: { id: disabled.record.id }, data: { enabled: false } });
    const res = await gw.deliver(disabled, textUpdate(alice, 'x'));
    expect(res.status).toBe(404);
    expect(await queuedOf(disabled.record.id)).toHaveLength(0);
    expect(await gw.keys(`*${disabled.record.id}*`)).toEqual([]);
  });

  it('answers 401 for a missing or wrong secret', async () => {
    const missing = await gw.post(bot.token, textUpdate(alice, 'x'), { secret: null });
    expect(missing.status).toBe(401);
    expect((await jsonOf(missing)).code).toBe('invalid_secret_token');
    const wrong = await gw.post(bot.token, textUpdate(alice, 'x'), {
      secret: bot.secret.slice(0, -1) + (bot.secret.endsWith('A') ? 'B' : 'A'),
    });
    expect(wrong.status).toBe(401);
    const otherBot = await gw.registerBot();
    const crossed = await gw.post(bot.token, textUpdate(alice, 'x'), { secret: otherBot.secret });
    expect(crossed.status).toBe(401);
  });

  it('stores the body as sent, whatever its layout, as the update it parses to', async () => {
    const update = textUpdate(alice, 'naïve «quotes» \u2028 \\ "😀"');
    const rawBody = `\n{\n  "update_id" : ${update.update_id},\n\t"message": ${JSON.stringify(update.message, null, 2)}\n}\n`;
    expect((await gw.post(bot.token, null, { secret: bot.secret, rawBody })).status).toBe(200);
    const raw = await gw.redis.lrange(`${gw.config.redisPrefix}:mb:${bot.record.id}:c${alice.id}`, 0, -1);
    const stored = raw.map((r) => JSON.parse(r) as MailboxEntry).find((e) => e.update.update_id === update.update_id);
    expect(stored).toEqual({ id: `${bot.record.id}-${update.update_id}`, at: expect.any(Number), update });
    // Prototype poisoning is refused as Fastify refuses it elsewhere, not stored.
    const poisoned = await gw.post(bot.token, null, {
      secret: bot.secret,
      rawBody: `{"update_id": ${update.update_id + 1}, "message": {"__proto__": {"admin": true}}}`,
    });
    expect(poisoned.status).toBe(400);
    expect((await queuedOf(bot.record.id)).some((e) => e.update.update_id === update.update_id + 1)).toBe(false);
  });

  it('answers 400 for malformed JSON and for bodies that are not updates', async () => {
    const malformed = await gw.post(bot.token, null, { secret: bot.secret, rawBody: '{"update_id": 1, "message": {' });
    expect(malformed.status).toBe(400);
    expect((await jsonOf(malformed)).code).toBe('invalid_json');
    for (const body of [
      [],
      { message: { text: 'no id' } },
      { update_id: -1, message: {} },
      { update_id: '5', message: {} },
      { update_id: 1.5, message: {} },
      { update_id: 7 },
      'just a string',
    ]) {
      const res = await gw.post(bot.token, body, { secret: bot.secret });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await jsonOf(res)).code).toBe('invalid_update');
    }
  });

  it('answers 415 for a body that is not JSON', async () => {
    const text = await gw.post(bot.token, null, { secret: bot.secret, contentType: 'text/plain', rawBody: 'hello' });
    expect(text.status).toBe(415);
    expect((await jsonOf(text)).code).toBe('unsupported_media_type');
    const none = await gw.post(bot.token, null, { secret: bot.secret, contentType: null, rawBody: '{}' });
    expect(none.status).toBe(415);
  });

  it('answers 413 for a body over the limit', async () => {
    const huge = textUpdate(alice, 'x'.repeat(1024 * 1024 + 10));
    const res = await gw.deliver(bot, huge);
    expect(res.status).toBe(413);
    expect((await jsonOf(res)).code).toBe('payload_too_large');
    expect((await gw.queued()).some((e) => e.update.update_id === huge.update_id)).toBe(false);
    expect(await gw.keys(`dd:${bot.record.id}:${huge.update_id}`)).toEqual([]);
  });

  it('looks a known bot up in Postgres once, not per update', async () => {
    const fresh = await gw.registerBot();
    const repository = gw.app.get(BotRepository, { strict: false });
    const spy = vi.spyOn(repository, 'getByTokenHash');
    try {
      for (let i = 0; i < 5; i++) expect((await gw.deliver(fresh, textUpdate(alice, `n${i}`))).status).toBe(200);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('never puts the token in a response or a log line', async () => {
    const res = await fetch(`${gw.baseUrl}/webhook/${bot.token}`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain(bot.token);
    await gw.post(bot.token, null, { secret: 'wrong', rawBody: '{' });
    const logs = gw.logs.join('');
    expect(logs).toContain('/webhook/<redacted>');
    expect(logs).not.toContain(bot.token);
    expect(logs).not.toContain(encodeURIComponent(bot.token));
    expect(logs).not.toContain(bot.secret);
  });

  it('exposes webhook outcomes and enqueue latency as Prometheus metrics', async () => {
    const res = await fetch(`${gw.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/tg_gateway_webhook_requests_total\{outcome="accepted"\} [1-9]/);
    expect(text).toMatch(/tg_gateway_webhook_requests_total\{outcome="duplicate"\} [1-9]/);
    expect(text).toMatch(/tg_gateway_webhook_requests_total\{outcome="unknown_bot"\} [1-9]/);
    expect(text).toMatch(/tg_gateway_enqueue_duration_seconds_count [1-9]/);
    expect(text).toMatch(/tg_gateway_queue_jobs\{state="waiting"\} [1-9]/);
    expect(text).not.toContain(bot.token);
  });

  it('reports liveness and readiness', async () => {
    expect((await fetch(`${gw.baseUrl}/health/live`)).status).toBe(200);
    // Polled: on a loaded machine a probe may exceed its 1 s timeout once.
    let body: unknown;
    await waitUntil(
      async () => {
        const ready = await fetch(`${gw.baseUrl}/health/ready`);
        body = await jsonOf(ready);
        return ready.status === 200;
      },
      10_000,
      'readiness',
    );
    expect(body).toEqual({ status: 'ok', checks: { postgres: 'up', redis: 'up' } });
  });
});

describe('bot cache kept right without change notifications', () => {
  // Changes made behind the gateway's back (no announcement over Redis): only the periodic comparison of the
  // cached bots' versions with the registry can notice them. Cached entries never expire by age.
  it('refuses a bot disabled or deleted directly in the database after BOT_CACHE_TTL_MS, and keeps serving the others', async () => {
    const gw = await Harness.start({ role: 'api', env: { BOT_CACHE_TTL_MS: '1000' } });
    try {
      const [disabled, deleted, untouched] = [await gw.registerBot(), await gw.registerBot(), await gw.registerBot()];
      for (const b of [disabled, deleted, untouched]) {
        expect((await gw.deliver(b, textUpdate(alice, 'cached'))).status).toBe(200);
      }
      const prisma = gw.app.get(PrismaService);
      await prisma.bot.update({ where: { id: disabled.record.id }, data: { enabled: false } });
      await prisma.bot.delete({ where: { id: deleted.record.id } });
      // Still cached right after the change (this is what the periodic check exists for).
      expect((await gw.deliver(disabled, textUpdate(alice, 'stale'))).status).toBe(200);

      const repository = gw.app.get(BotRepository, { strict: false });
      const lookups = vi.spyOn(repository, 'getByTokenHash');
      try {
        await waitUntil(
          async () =>
            (await gw.deliver(disabled, textUpdate(alice, 'after'))).status === 404 &&
            (await gw.deliver(deleted, textUpdate(alice, 'after'))).status === 404,
          5_000,
          'the changed bots to be refused',
        );
        // Several checks have run by now; the unchanged bot is still served from the cache.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        expect((await gw.deliver(untouched, textUpdate(alice, 'still cached'))).status).toBe(200);
        const untouchedHash = gw.app.get(BotRegistryService).tokenHashOf(untouched.record);
        expect(lookups.mock.calls.filter(([hash]) => Buffer.from(hash).toString('base64') === untouchedHash)).toEqual(
          [],
        );
      } finally {
        lookups.mockRestore();
      }
    } finally {
      await gw.close();
    }
  });
});

describe('unknown tokens never reach Postgres', () => {
  // Only the change bus and the process's own writes can tell A about bots: no periodic check during the test.
  let a: Harness;

  beforeAll(async () => {
    a = await Harness.start({ role: 'api', env: { BOT_CACHE_TTL_MS: '600000' } });
  });

  afterAll(async () => {
    await a.close();
  });

  const keysOf = (h: Harness) => ({
    TOKEN_ENCRYPTION_KEYS: healthyKeys(h).enc,
    TOKEN_HASH_KEY: healthyKeys(h).hash,
    ADMIN_API_KEYS: h.config.adminApiKeys.join(','),
  });
  /** A token of Telegram's shape that no bot has. */
  const madeUp = () => `${6_000_000_000 + Math.floor(Math.random() * 1e9)}:AA${randomBytes(25).toString('base64url')}`;

  it('answers 404 to made-up tokens, well-formed or not, without a single Postgres query', async () => {
    const known = await a.registerBot();
    expect((await a.deliver(known, textUpdate(alice, 'warm'))).status).toBe(200);
    // Every statement any Prisma client of this process sends goes through pg's Client#query.
    const queries = vi.spyOn(Client.prototype, 'query');
    try {
      const repeated = madeUp();
      const tokens = [
        ...Array.from({ length: 400 }, madeUp),
        repeated,
        repeated,
        'not-a-token',
        '12345:short',
        `${known.info.id}:${'A'.repeat(80)}`,
        `bot${known.token}`,
        known.token.split(':')[1],
      ];
      for (let i = 0; i < tokens.length; i += 50) {
        const answers = await Promise.all(
          tokens.slice(i, i + 50).map((token) => a.post(token, textUpdate(alice, 'x'), { secret: known.secret })),
        );
        for (const res of answers) {
          expect(res.status).toBe(404);
          expect((await jsonOf(res)).code).toBe('bot_not_found');
        }
      }
      const sql = queries.mock.calls.map(([query]) => JSON.stringify(query).slice(0, 120));
      expect(sql).toEqual([]);
      // The registered bot is still served, and the spy does see queries (a registration writes one).
      expect((await a.deliver(known, textUpdate(alice, 'still known'))).status).toBe(200);
      await a.registerBot();
      expect(queries.mock.calls.length).toBeGreaterThan(0);
    } finally {
      queries.mockRestore();
    }
  });

  it('serves a bot registered by another process within seconds, and refuses it once deleted there', async () => {
    const b = await Harness.start({
      role: 'api',
      telegram: a.telegram,
      env: { ...keysOf(a), REDIS_PREFIX: a.config.redisPrefix, BOT_CACHE_TTL_MS: '600000' },
    });
    try {
      const bot = await b.registerBot();
      await waitUntil(
        async () => (await a.deliver(bot, textUpdate(alice, 'hello'))).status === 200,
        5_000,
        'A to serve the bot B registered',
      );
      const removed = await fetch(`${b.baseUrl}/admin/bots/${bot.record.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${b.config.adminApiKeys[0]}` },
      });
      expect(removed.status).toBe(200);
      await waitUntil(
        async () => (await a.deliver(bot, textUpdate(alice, 'gone'))).status === 404,
        5_000,
        'A to refuse the bot B deleted',
      );
    } finally {
      await b.close();
    }
  });

  it('catches up within BOT_CACHE_TTL_MS with changes it was never told about', async () => {
    // C shares the registry and keys but not the Redis prefix: no change reaches it over the bus.
    const c = await Harness.start({
      role: 'api',
      telegram: a.telegram,
      env: { ...keysOf(a), BOT_CACHE_TTL_MS: '1000' },
    });
    try {
      expect((await c.post(madeUp(), textUpdate(alice, 'x'), { secret: 'x' })).status).toBe(404);
      const bot = await a.registerBot();
      await waitUntil(
        async () => (await c.deliver(bot, textUpdate(alice, 'hello'))).status === 200,
        5_000,
        'C to serve a bot registered elsewhere',
      );
      await a.app.get(PrismaService).bot.delete({ where: { id: bot.record.id } });
      await waitUntil(
        async () => (await c.deliver(bot, textUpdate(alice, 'gone'))).status === 404,
        5_000,
        'C to refuse a bot deleted in the database',
      );
    } finally {
      await c.close();
    }
  });
});

describe('webhook source-IP allowlist', () => {
  it('refuses callers outside WEBHOOK_ALLOWED_IPS with 403', async () => {
    const gw = await Harness.start({ role: 'api', env: { WEBHOOK_ALLOWED_IPS: 'telegram' } });
    try {
      const bot = await gw.registerBot();
      const res = await gw.deliver(bot, textUpdate(alice, 'x'));
      expect(res.status).toBe(403);
      expect((await jsonOf(res)).code).toBe('ip_not_allowed');
      // X-Forwarded-For is not believed from a connection that is not a trusted proxy.
      const forged = await gw.post(bot.token, textUpdate(alice, 'x'), {
        secret: bot.secret,
        headers: { 'x-forwarded-for': '149.154.167.220' },
      });
      expect(forged.status).toBe(403);
    } finally {
      await gw.close();
    }
  });

  it('believes X-Forwarded-For from a trusted proxy', async () => {
    const gw = await Harness.start({
      role: 'api',
      env: { WEBHOOK_ALLOWED_IPS: 'telegram', TRUSTED_PROXIES: '127.0.0.1/32,::1' },
    });
    try {
      const bot = await gw.registerBot();
      const viaProxy = (ip: string) =>
        gw.post(bot.token, textUpdate(alice, 'x'), { secret: bot.secret, headers: { 'x-forwarded-for': ip } });
      expect((await viaProxy('149.154.167.220')).status).toBe(200);
      expect((await viaProxy('203.0.113.7')).status).toBe(403);
    } finally {
      await gw.close();
    }
  });
});

describe('webhook when a dependency is down', () => {
  let telegram: FakeTelegram;
  let blackHole: Server;
  let blackHolePort: number;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    // Accepts connections and never answers: a Redis that hangs rather than refuses.
    blackHole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    blackHolePort = (blackHole.address() as { port: number }).port;
  });

  afterAll(async () => {
    await telegram.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => blackHole.close(resolve));
  });

  for (const [what, url] of [
    ['refuses connections', 'redis://127.0.0.1:1'],
    ['hangs', () => `redis://127.0.0.1:${blackHolePort}`],
  ] as const) {
    it(`answers 503 with Retry-After within a second when Redis ${what}`, async () => {
      const redisUrl = typeof url === 'function' ? url() : url;
      // The bot is registered through a healthy gateway sharing the database and keys, before the other process
      // starts: with Redis away, that one hears of no change until its next check of the registry.
      const healthy = await Harness.start({ role: 'api', telegram });
      const bot = await healthy.registerBot();
      const down = await Harness.start({
        role: 'api',
        telegram,
        env: {
          REDIS_URL: redisUrl,
          TOKEN_ENCRYPTION_KEYS: healthyKeys(healthy).enc,
          TOKEN_HASH_KEY: healthyKeys(healthy).hash,
        },
      });
      try {
        const started = Date.now();
        const res = await down.deliver(bot, textUpdate(alice, 'x'));
        const elapsed = Date.now() - started;
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        expect((await jsonOf(res)).code).toBe('queue_unavailable');
        expect(elapsed).toBeLessThan(2_000);
        const ready = await fetch(`${down.baseUrl}/health/ready`);
        expect(ready.status).toBe(503);
        expect((await jsonOf(ready)).checks.redis).toBe('down');
      } finally {
        await down.app.close();
        await healthy.close();
      }
    });
  }

  it('answers 503, never 404, when Postgres is down on a cache miss', async () => {
    const gw = await Harness.start({
      role: 'api',
      telegram,
      env: { DATABASE_URL: 'postgresql://postgres:postgres@127.0.0.1:1/tg_gateway_test' },
    });
    try {
      const { token } = telegram.addBot();
      const res = await gw.post(token, textUpdate(alice, 'x'), { secret: 'whatever' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await jsonOf(res)).code).toBe('database_unavailable');
    } finally {
      await gw.app.close();
    }
  });
});

function healthyKeys(h: Harness) {
  return {
    enc: h.config.encryptionKeys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
    hash: h.config.tokenHashKey.toString('base64'),
  };
}
