import { describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';
import {
  cleanupsAfterEach,
  Harness,
  jsonOf,
  RegisteredBot,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  waitUntil,
} from './support/harness';
import { TcpProxy } from './support/tcp-proxy';
import { alice, textUpdate } from './support/updates';
import { PrismaService } from '../src/infra/database/prisma.service';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || (parsed.protocol.startsWith('redis') ? 6379 : 5432)) };
}

interface Sender {
  chatId: number;
  /** Texts acknowledged with 2xx, in order. */
  accepted: string[];
  done: Promise<void>;
}

/**
 * Posts numbered messages to one chat like Telegram does: the same update again after a failure (honouring
 * nothing but a short pause), the next one only after a 2xx. Records the slowest non-2xx answer.
 */
function startSender(
  gw: Harness,
  bot: RegisteredBot,
  chatId: number,
  stop: { now: boolean },
  stats: { slowest503: number; count503: number },
): Sender {
  const accepted: string[] = [];
  const person = { id: chatId, first_name: 'P' };
  const done = (async () => {
    for (let n = 1; !stop.now; n++) {
      const update = textUpdate(person, String(n));
      for (;;) {
        const started = Date.now();
        const res = await gw.deliver(bot, update).catch(() => undefined);
        if (res?.status === 200) {
          accepted.push(String(n));
          break;
        }
        expect(res?.status).toBe(503);
        expect(res!.headers.get('retry-after')).toMatch(/^\d+$/);
        stats.count503++;
        stats.slowest503 = Math.max(stats.slowest503, Date.now() - started);
        await sleep(200);
      }
      await sleep(50);
    }
  })();
  return { chatId, accepted, done };
}

function repliesTo(telegram: FakeTelegram, bot: RegisteredBot, chatId: number): string[] {
  const replies = telegram
    .callsOf('sendMessage', bot.token)
    .filter((c) => c.params.chat_id === chatId)
    .map((c) => c.params.text as string);
  // An update in flight when the connection dropped may be done twice, in place.
  return replies.filter((r, i) => i === 0 || r !== replies[i - 1]);
}

describe('outages of Redis and Postgres', () => {
  const cleanups = cleanupsAfterEach();

  it('Redis away for 30 s: 503 + Retry-After within a second, then everything acknowledged is processed', async () => {
    const proxy = await TcpProxy.start(hostPort(TEST_REDIS_URL));
    cleanups.push(() => proxy.down());
    const gw = await Harness.start({
      role: 'all',
      env: { REDIS_URL: proxy.url('redis', new URL(TEST_REDIS_URL).pathname) },
    });
    cleanups.push(() => gw.close());
    const bot = await gw.registerBot();
    // Known to the API's cache before the outage, and disabled while the cache cannot hear about it.
    const disabledMeanwhile = await gw.registerBot();
    expect((await gw.deliver(disabledMeanwhile, textUpdate(alice, 'before'))).status).toBe(200);
    const stop = { now: false };
    const stats = { slowest503: 0, count503: 0 };
    const senders = [801, 802, 803].map((chat) => startSender(gw, bot, chat, stop, stats));

    await sleep(2_000);
    await proxy.down();
    const prisma = new PrismaService(gw.config);
    await prisma.bot.update({ where: { id: disabledMeanwhile.record.id }, data: { enabled: false } });
    await prisma.$disconnect();
    await sleep(30_000);
    expect((await fetch(`${gw.baseUrl}/health/ready`)).status).toBe(503);
    await proxy.up();
    await waitUntil(async () => (await fetch(`${gw.baseUrl}/health/ready`)).status === 200, 20_000, 'readiness');
    // The pub/sub message of that change was never sent; the cache refreshes itself once the subscription is back
    // (before the next periodic check of BOT_CACHE_TTL_MS).
    await waitUntil(
      async () => (await gw.deliver(disabledMeanwhile, textUpdate(alice, 'after'))).status === 404,
      5_000,
      'the bot disabled during the outage to be refused',
    );
    await sleep(3_000);
    stop.now = true;
    await Promise.all(senders.map((s) => s.done));

    expect(stats.count503).toBeGreaterThan(0);
    expect(stats.slowest503).toBeLessThan(1_000);
    for (const sender of senders) {
      await waitUntil(
        () => repliesTo(gw.telegram, bot, sender.chatId).length >= sender.accepted.length,
        60_000,
        `replies in chat ${sender.chatId}`,
      );
      expect(repliesTo(gw.telegram, bot, sender.chatId)).toEqual(sender.accepted);
    }
    // Nothing failed for good, and nothing is left waiting.
    expect(await gw.failed()).toEqual([]);
    await waitUntil(async () => (await gw.queued(bot.record.id)).length === 0, 10_000, 'the mailboxes to empty');
  }, 120_000);

  it('Postgres away for 60 s: cached bots keep working, admin calls answer 503, all recovers', async () => {
    const proxy = await TcpProxy.start(hostPort(TEST_DATABASE_URL));
    cleanups.push(() => proxy.down());
    const databaseUrl = TEST_DATABASE_URL.replace(/@[^/]+\//, `@127.0.0.1:${proxy.port}/`);
    const gw = await Harness.start({ role: 'all', env: { DATABASE_URL: databaseUrl } });
    cleanups.push(async () => {
      await proxy.up();
      await gw.close();
    });
    const bot = await gw.registerBot();
    const auth = { authorization: `Bearer ${gw.config.adminApiKeys[0]}` };
    // Warm the caches: the API's (by token) and the worker's (by id).
    expect((await gw.deliver(bot, textUpdate({ id: 900, first_name: 'P' }, 'warm'))).status).toBe(200);
    await gw.telegram.waitFor(() => gw.telegram.callsOf('sendMessage', bot.token).length === 1);

    // Registered, so its token is known, but never delivered to: not in the API's bot cache.
    const uncached = await gw.registerBot();
    await proxy.down();
    const outageStarted = Date.now();
    const unknown = gw.telegram.addBot();
    let n = 0;
    while (Date.now() - outageStarted < 60_000) {
      n++;
      const res = await gw.deliver(bot, textUpdate({ id: 900, first_name: 'P' }, `during ${n}`));
      expect(res.status).toBe(200);
      if (n === 1 || n % 10 === 0) {
        const admin = await fetch(`${gw.baseUrl}/admin/bots/${bot.record.id}`, { headers: auth });
        expect(admin.status).toBe(503);
        expect((await jsonOf(admin)).code).toBe('database_unavailable');
        // A bot the cache does not hold needs Postgres: 503, never a 404 that would look like "unknown".
        const miss = await gw.deliver(uncached, textUpdate({ id: 900, first_name: 'P' }, 'x'));
        expect(miss.status).toBe(503);
        // A token that is not registered at all is known to be unknown without Postgres.
        const stranger = await gw.post(unknown.token, textUpdate({ id: 900, first_name: 'P' }, 'x'), { secret: 'x' });
        expect(stranger.status).toBe(404);
      }
      await sleep(1_000);
    }
    await gw.telegram.waitFor(
      () => gw.telegram.callsOf('sendMessage', bot.token).length === n + 1,
      20_000,
      'replies during the outage',
    );
    expect((await fetch(`${gw.baseUrl}/health/ready`)).status).toBe(503);

    await proxy.up();
    await waitUntil(async () => (await fetch(`${gw.baseUrl}/health/ready`)).status === 200, 20_000, 'readiness');
    const admin = await fetch(`${gw.baseUrl}/admin/bots/${bot.record.id}`, { headers: auth });
    expect(admin.status).toBe(200);
    const fresh = await gw.registerBot();
    expect((await gw.deliver(fresh, textUpdate({ id: 901, first_name: 'Q' }, '/start'))).status).toBe(200);
    await gw.telegram.waitFor(() => gw.telegram.callsOf('sendMessage', fresh.token).length === 1);
    // Every update accepted during the outage was processed: none failed for good, none is left waiting.
    await waitUntil(async () => (await gw.queued()).length === 0, 10_000, 'the mailboxes to empty');
    expect(await gw.failed()).toEqual([]);
  }, 150_000);
});
