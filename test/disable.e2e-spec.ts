import { describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';
import { cleanupsAfterEach, Harness, jsonOf, testEnv, waitUntil } from './support/harness';
import { alice, textUpdate } from './support/updates';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('disabling a bot', () => {
  const cleanups = cleanupsAfterEach();

  it('stops its processing at once across processes; queued updates wait, then run in order once enabled', async () => {
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const env = testEnv(telegram.apiRoot);
    const api = await Harness.start({ role: 'api', env: { ...env, PROXY_PATH: '/telegram' }, telegram });
    cleanups.push(() => api.close());
    const bot = await api.registerBot();
    const other = await api.registerBot();
    const texts = ['one', 'two', 'three'];
    for (const text of texts) expect((await api.deliver(bot, textUpdate(alice, text))).status).toBe(200);
    expect((await api.deliver(other, textUpdate(alice, 'other'))).status).toBe(200);

    const auth = { authorization: `Bearer ${api.config.adminApiKeys[0]}`, 'content-type': 'application/json' };
    // The bot's own programs call Telegram through the gateway's proxy with a credential.
    const created = await fetch(`${api.baseUrl}/admin/bots/${bot.record.id}/proxy-credentials`, {
      method: 'POST',
      headers: auth,
      body: '{}',
    });
    expect(created.status).toBe(201);
    const credential = ((await created.json()) as { credential: string }).credential;
    const getMe = () => fetch(`${api.baseUrl}/telegram/bot${credential}/getMe`);
    const patch = (enabled: boolean) =>
      fetch(`${api.baseUrl}/admin/bots/${bot.record.id}`, {
        method: 'PATCH',
        headers: auth,
        body: JSON.stringify({ enabled }),
      });
    expect((await patch(false)).status).toBe(200);
    // New deliveries are refused (Telegram keeps them and retries)...
    const refused = await api.deliver(bot, textUpdate(alice, 'refused'));
    expect(refused.status).toBe(404);
    expect((await jsonOf(refused)).code).toBe('bot_disabled');

    // ...and a worker in another process does not run the updates already queued.
    const worker = await Harness.start({ role: 'worker', env, telegram });
    cleanups.push(() => worker.app.close());
    await telegram.waitFor(() => telegram.callsOf('sendMessage', other.token).length === 1, 10_000);
    await sleep(2_000);
    expect(telegram.callsOf('sendMessage', bot.token)).toHaveLength(0);
    expect((await api.queued(bot.record.id)).map((e) => e.update.message?.text)).toEqual(texts);
    // The worker paused the bot while it is disabled: not a flood wait, so the proxy only says it is disabled...
    const pauseKey = `${api.config.redisPrefix}:pause:${bot.record.id}`;
    expect(await api.redis.get(pauseKey)).toBe('disabled');
    expect((await getMe()).status).toBe(403);

    // ...and lets the bot call Telegram as soon as it is enabled, seconds before that pause runs out.
    await waitUntil(async () => (await api.redis.pttl(pauseKey)) > 3_000, 10_000, 'a fresh pause');
    expect((await patch(true)).status).toBe(200);
    expect((await getMe()).status).toBe(200);
    expect(await api.redis.pttl(pauseKey)).toBeGreaterThan(0);
    await telegram.waitFor(() => telegram.callsOf('sendMessage', bot.token).length === 3, 15_000, 'the queued replies');
    expect(telegram.callsOf('sendMessage', bot.token).map((c) => c.params.text)).toEqual(texts);
    expect(await api.queued(bot.record.id)).toHaveLength(0);
  }, 60_000);
});
