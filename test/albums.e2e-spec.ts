import { describe, expect, it } from 'vitest';
import { FakeTelegram, TelegramCall } from './support/fake-telegram';
import { cleanupsAfterEach, Harness, RegisteredBot, testEnv, waitUntil } from './support/harness';
import { startProcess } from './support/processes';
import { alice, bob, photoUpdate, textUpdate } from './support/updates';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function setAlbums(api: Harness, bot: RegisteredBot, albums: boolean): Promise<void> {
  const res = await fetch(`${api.baseUrl}/admin/bots/${bot.record.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${api.config.adminApiKeys[0]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ albums }),
  });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { albums: boolean }).albums).toBe(albums);
}

/** What the echo feature did in one chat, in order: texts sent, single copies, album copies (their message ids). */
function repliesIn(telegram: FakeTelegram, bot: RegisteredBot, chatId: number): string[] {
  return telegram.calls
    .filter((c: TelegramCall) => c.token === bot.token && Number(c.params.chat_id) === chatId)
    .filter((c) => ['sendMessage', 'copyMessage', 'copyMessages'].includes(c.method))
    .map((c) => {
      if (c.method === 'sendMessage') return `text:${c.params.text}`;
      if (c.method === 'copyMessage') return `copy:${c.params.message_id}`;
      return `album:${(c.params.message_ids as number[]).join(',')}`;
    });
}

describe('albums (media groups as one update)', () => {
  const cleanups = cleanupsAfterEach();

  it('runs a media group once it is quiet, as one album in its place in the conversation, whichever API process took each part', async () => {
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const env = testEnv(telegram.apiRoot, { ALBUM_WAIT_MS: '2000' });
    const apiA = await Harness.start({ role: 'api', env, telegram });
    cleanups.push(() => apiA.close());
    const apiB = await Harness.start({ role: 'api', env, telegram });
    cleanups.push(() => apiB.close());
    const bot = await apiA.registerBot();
    const plain = await apiA.registerBot();
    await setAlbums(apiA, bot, true);
    const worker = await Harness.start({ role: 'worker', env, telegram });
    cleanups.push(() => worker.app.close());

    const group = 'album-1';
    const parts = [1, 2, 3].map((n) => photoUpdate(alice, { mediaGroupId: group, caption: `part ${n}` }));
    const ids = parts.map((p) => p.message.message_id);
    expect((await apiA.deliver(bot, textUpdate(alice, 'before'))).status).toBe(200);
    expect((await apiA.deliver(bot, parts[0])).status).toBe(200);
    expect((await apiB.deliver(bot, parts[1])).status).toBe(200);
    // A message of the same chat between two parts keeps its place after the album.
    expect((await apiA.deliver(bot, textUpdate(alice, 'between'))).status).toBe(200);
    // Telegram retries a part: a duplicate, not a fourth part.
    expect((await apiB.deliver(bot, parts[1])).status).toBe(200);
    await sleep(300);
    expect((await apiA.deliver(bot, parts[2])).status).toBe(200);
    // Another chat is not held up by the album's wait.
    expect((await apiB.deliver(bot, textUpdate(bob, 'meanwhile'))).status).toBe(200);
    await telegram.waitFor(() => repliesIn(telegram, bot, bob.id).length === 1, 10_000, "bob's reply");
    expect(repliesIn(telegram, bot, alice.id)).toEqual(['text:before']);

    await telegram.waitFor(() => repliesIn(telegram, bot, alice.id).length === 3, 20_000, 'the album and the rest');
    expect(repliesIn(telegram, bot, alice.id)).toEqual(['text:before', `album:${ids.join(',')}`, 'text:between']);
    expect(await apiA.queued(bot.record.id)).toEqual([]);
    // The bot's backlog count (its tenant's quota is checked against it) went back to nothing, album parts included.
    await waitUntil(
      async () => (await apiA.redis.exists(`${apiA.config.redisPrefix}:pb:${bot.record.id}`)) === 0,
      5_000,
      'the backlog count to clear',
    );

    // A bot without albums: each part on its own.
    const other = [1, 2].map(() => photoUpdate(alice, { mediaGroupId: 'album-2' }));
    for (const part of other) expect((await apiA.deliver(plain, part)).status).toBe(200);
    await telegram.waitFor(() => repliesIn(telegram, plain, alice.id).length === 2, 10_000, 'the two copies');
    expect(repliesIn(telegram, plain, alice.id)).toEqual(other.map((p) => `copy:${p.message.message_id}`));
  }, 120_000);

  it('survives a worker killed while the album waits for its last part', async () => {
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const env = testEnv(telegram.apiRoot, { ALBUM_WAIT_MS: '5000' });
    const api = await Harness.start({ role: 'api', env, telegram });
    cleanups.push(() => api.close());
    const bot = await api.registerBot();
    await setAlbums(api, bot, true);
    const first = startProcess('main-worker', { ...env, WORKER_PORT: '0' });
    cleanups.push(() => first.stop('SIGKILL'));
    await first.waitForOutput('Running up to', 60_000);

    const parts = [1, 2, 3].map(() => photoUpdate(alice, { mediaGroupId: 'album-crash' }));
    for (const part of parts.slice(0, 2)) expect((await api.deliver(bot, part)).status).toBe(200);
    // The worker has seen the album and parked its conversation until it is quiet.
    const delayed = `${api.config.redisPrefix}:delayed`;
    await waitUntil(async () => (await api.redis.zcard(delayed)) === 1, 10_000, 'the album to wait');
    first.child.kill('SIGKILL');
    expect((await api.deliver(bot, parts[2])).status).toBe(200);

    const second = startProcess('main-worker', { ...env, WORKER_PORT: '0' });
    cleanups.push(() => second.stop('SIGKILL'));
    await telegram.waitFor(() => repliesIn(telegram, bot, alice.id).length > 0, 60_000, 'the album');
    await sleep(500);
    expect(repliesIn(telegram, bot, alice.id)).toEqual([`album:${parts.map((p) => p.message.message_id).join(',')}`]);
    await waitUntil(async () => (await api.queued(bot.record.id)).length === 0, 5_000, 'an empty mailbox');
  }, 120_000);
});
