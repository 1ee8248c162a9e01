import { describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';
import { cleanupsAfterEach, Harness, jsonOf, testEnv } from './support/harness';
import { alice, textUpdate } from './support/updates';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('disabling a bot', () => {
  const cleanups = cleanupsAfterEach();

  it('stops its processing at once across processes; queued updates wait, then run in order once enabled', async () => {
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const env = testEnv(telegram.apiRoot);
    const api = await Harness.start({ role: 'api', env, telegram });
    cleanups.push(() => api.close());
    const bot = await api.registerBot();
    const other = await api.registerBot();
    const texts = ['one', 'two', 'three'];
    for (const text of texts) expect((await api.deliver(bot, textUpdate(alice, text))).status).toBe(200);
    expect((await api.deliver(other, textUpdate(alice, 'other'))).status).toBe(200);

    const auth = { authorization: `Bearer ${api.config.adminApiKeys[0]}`, 'content-type': 'application/json' };
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

    expect((await patch(true)).status).toBe(200);
    await telegram.waitFor(() => telegram.callsOf('sendMessage', bot.token).length === 3, 15_000, 'the queued replies');
    expect(telegram.callsOf('sendMessage', bot.token).map((c) => c.params.text)).toEqual(texts);
    expect(await api.queued(bot.record.id)).toHaveLength(0);
  }, 60_000);
});
