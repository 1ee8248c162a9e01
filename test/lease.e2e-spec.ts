import { describe, expect, it } from 'vitest';
import { FakeBot, FakeTelegram, TelegramCall } from './support/fake-telegram';
import { cleanupsAfterEach, Harness, RegisteredBot, TEST_REDIS_URL, testEnv, waitUntil } from './support/harness';
import { startProcess } from './support/processes';
import { TcpProxy } from './support/tcp-proxy';
import { textUpdate } from './support/updates';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const CHATS = 8;
const PER_CHAT = 15;

describe('a Redis outage longer than JOB_LOCK_MS', () => {
  const cleanups = cleanupsAfterEach();

  it('never lets two workers run one conversation at once, and loses nothing', async () => {
    // Each worker talks to a Telegram of its own, so every Bot API call is known to come from one or the other.
    const telegramA = await FakeTelegram.start();
    const telegramB = await FakeTelegram.start();
    cleanups.push(
      () => telegramA.close(),
      () => telegramB.close(),
    );
    const env = testEnv(telegramA.apiRoot, { LOG_LEVEL: 'info', JOB_LOCK_MS: '3000', TELEGRAM_TIMEOUT_MS: '1000' });
    const api = await Harness.start({ role: 'api', env, telegram: telegramA });
    cleanups.push(() => api.close());
    const bot: RegisteredBot = await api.registerBot();
    (telegramB as unknown as { bots: Map<string, FakeBot> }).bots.set(bot.token, bot.info);

    const { hostname, port } = new URL(TEST_REDIS_URL);
    const proxy = await TcpProxy.start({ host: hostname, port: Number(port || 6379) });
    cleanups.push(() => proxy.down());
    const workerA = startProcess('main-worker', {
      ...env,
      WORKER_PORT: '0',
      REDIS_URL: proxy.url('redis', new URL(TEST_REDIS_URL).pathname),
    });
    cleanups.push(() => workerA.stop('SIGKILL'));
    await workerA.waitForOutput('Running up to');
    telegramA.delays.set('sendMessage', 200);

    const chats = Array.from({ length: CHATS }, (_, i) => ({ id: 910_000 + i, first_name: 'L' }));
    const posting = Promise.all(
      chats.map(async (person) => {
        for (let n = 1; n <= PER_CHAT; n++)
          expect((await api.deliver(bot, textUpdate(person, String(n)))).status).toBe(200);
      }),
    );
    await telegramA.waitFor((calls) => calls.length >= 2 * CHATS, 20_000, 'worker A to be busy');
    // Worker A loses Redis in the middle of its calls; worker B, which reaches Redis, starts meanwhile.
    await proxy.down();
    const cutAt = Date.now();
    const workerB = startProcess('main-worker', { ...env, WORKER_PORT: '0', TELEGRAM_API_ROOT: telegramB.apiRoot });
    cleanups.push(() => workerB.stop('SIGKILL'));
    await posting;
    await telegramB.waitFor((calls) => calls.length > 0, 20_000, 'worker B to take over');
    await sleep(8_000 - (Date.now() - cutAt));
    const outageCalls = { a: [...telegramA.calls], b: [...telegramB.calls] };
    await proxy.up();

    const replies = (calls: TelegramCall[], chat: number) =>
      calls.filter((c) => c.method === 'sendMessage' && c.params.chat_id === chat);
    await waitUntil(
      () =>
        chats.every((p) => {
          const texts = new Set(
            [...replies(telegramA.calls, p.id), ...replies(telegramB.calls, p.id)].map((c) => c.params.text),
          );
          return texts.size === PER_CHAT;
        }),
      60_000,
      'every update to be processed',
    );

    // Cut off, A stops acting before its heartbeat can expire in Redis (JOB_LOCK_MS), which is when B may take over.
    const lastA = Math.max(...outageCalls.a.map((c) => c.at));
    expect(lastA - cutAt).toBeLessThan(3_000);
    for (const person of chats) {
      const a = replies(outageCalls.a, person.id);
      const b = replies(outageCalls.b, person.id);
      if (a.length > 0 && b.length > 0) {
        expect(Math.max(...a.map((c) => c.at)), `chat ${person.id}`).toBeLessThan(Math.min(...b.map((c) => c.at)));
      }
      // In order, each update once (an update in flight at the cut may be redone in place).
      const all = [...replies(telegramA.calls, person.id), ...replies(telegramB.calls, person.id)].sort(
        (x, y) => x.at - y.at,
      );
      const texts = all.map((c) => c.params.text as string).filter((t, i, list) => i === 0 || t !== list[i - 1]);
      expect(texts, `chat ${person.id}`).toEqual(Array.from({ length: PER_CHAT }, (_, i) => String(i + 1)));
    }
    expect(workerA.output.join('')).toContain('Worker identity retired');
  }, 120_000);
});
