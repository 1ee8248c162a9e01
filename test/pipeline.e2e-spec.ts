import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterRecord } from '../src/updates/dead-letters.service';
import { FakeTelegram, TelegramCall } from './support/fake-telegram';
import { Harness, RegisteredBot, testEnv, waitUntil } from './support/harness';
import {
  alice,
  bob,
  callbackQueryUpdate,
  channelPostUpdate,
  editedMessageUpdate,
  futureKindUpdate,
  myChatMemberUpdate,
  stickerUpdate,
  textUpdate,
} from './support/updates';

describe('workers and the shared dispatcher', () => {
  let gw: Harness;

  beforeAll(async () => {
    gw = await Harness.start({ role: 'all' });
  });

  afterAll(async () => {
    await gw.close();
  });

  const sent = (bot: RegisteredBot, chatId?: number) =>
    gw.telegram.callsOf('sendMessage', bot.token).filter((c) => chatId === undefined || c.params.chat_id === chatId);
  const texts = (calls: TelegramCall[]) => calls.map((c) => c.params.text as string);

  /**
   * Delivers updates one after another, each once the previous one was fully processed (reply sent and session
   * saved), as a user who reads every answer before typing.
   */
  async function converse(bot: RegisteredBot, chatId: number, ...updates: { update_id: number }[]): Promise<string[]> {
    const before = sent(bot, chatId).length;
    for (const update of updates) {
      expect((await gw.deliver(bot, update)).status).toBe(200);
      expect(await doneOf(bot, update.update_id)).toBeUndefined();
    }
    return texts(sent(bot, chatId).slice(before));
  }

  /** Waits until the update left its mailbox; its dead letter if it failed for good. */
  async function doneOf(bot: RegisteredBot, updateId: number): Promise<DeadLetterRecord | undefined> {
    await waitUntil(
      async () => !(await gw.queued(bot.record.id)).some((e) => e.update.update_id === updateId),
      10_000,
      `update ${updateId} to be done`,
    );
    return (await gw.failed(bot.record.id)).find((r) => r.entry.update.update_id === updateId);
  }

  it('answers /start with a greeting, using the bot token from the registry', async () => {
    const bot = await gw.registerBot();
    expect(await converse(bot, alice.id, textUpdate(alice, '/start'))).toEqual(['Hello, Alice!']);
    const [call] = sent(bot, alice.id);
    expect(call.token).toBe(bot.token);
    // botInfo came from the registry: no getMe per update.
    expect(gw.telegram.callsOf('getMe', bot.token)).toHaveLength(0);
  });

  it('runs the /form conversation with state in Redis, and clears it at the end', async () => {
    const bot = await gw.registerBot();
    const replies = await converse(
      bot,
      alice.id,
      textUpdate(alice, '/form'),
      textUpdate(alice, 'Alice Liddell'),
      textUpdate(alice, 'seven'),
      textUpdate(alice, '7'),
    );
    expect(replies).toEqual([
      'What is your name?',
      'How old are you?',
      'Please send a number.',
      'Thanks, Alice Liddell! You are 7.',
    ]);
    const sessionKey = `session:${bot.info.id}:${alice.id}:${alice.id}`;
    expect(await gw.keys(sessionKey)).toEqual([]);
    // After the form, text is echoed again.
    expect(await converse(bot, alice.id, textUpdate(alice, 'back to echo'))).toEqual(['back to echo']);
  });

  it('keeps form state in Redis with the configured TTL while the form is open', async () => {
    const bot = await gw.registerBot();
    await converse(bot, alice.id, textUpdate(alice, '/form'));
    const key = `${gw.config.redisPrefix}:session:${bot.info.id}:${alice.id}:${alice.id}`;
    expect(JSON.parse((await gw.redis.get(key))!)).toEqual({ form: { step: 'name' } });
    const ttl = await gw.redis.ttl(key);
    expect(ttl).toBeGreaterThan(gw.config.sessionTtlSeconds - 60);
    expect(ttl).toBeLessThanOrEqual(gw.config.sessionTtlSeconds);
    expect(await converse(bot, alice.id, textUpdate(alice, '/cancel'))).toEqual(['Cancelled.']);
    expect(await gw.redis.exists(key)).toBe(0);
  });

  it('/cancel stops the form at any step', async () => {
    const bot = await gw.registerBot();
    const replies = await converse(
      bot,
      bob.id,
      textUpdate(bob, '/form'),
      textUpdate(bob, 'Bob'),
      textUpdate(bob, '/cancel'),
      textUpdate(bob, '42'),
    );
    expect(replies).toEqual(['What is your name?', 'How old are you?', 'Cancelled.', '42']);
  });

  it('never shares conversation state between two bots talking to the same chat', async () => {
    const first = await gw.registerBot();
    const second = await gw.registerBot();
    expect(await converse(first, alice.id, textUpdate(alice, '/form'))).toEqual(['What is your name?']);
    // The second bot is not in a form with Alice: it echoes.
    expect(await converse(second, alice.id, textUpdate(alice, 'Alice'))).toEqual(['Alice']);
    expect(await converse(first, alice.id, textUpdate(alice, 'Alice'))).toEqual(['How old are you?']);
    expect(await converse(second, alice.id, textUpdate(alice, '30'))).toEqual(['30']);
    expect(await converse(first, alice.id, textUpdate(alice, '30'))).toEqual(['Thanks, Alice! You are 30.']);
  });

  it('echoes text with sendMessage and copies other messages with copyMessage', async () => {
    const bot = await gw.registerBot();
    expect(await converse(bot, alice.id, textUpdate(alice, 'ping'))).toEqual(['ping']);
    const sticker = stickerUpdate(alice);
    expect((await gw.deliver(bot, sticker)).status).toBe(200);
    await gw.telegram.waitFor(() => gw.telegram.callsOf('copyMessage', bot.token).length === 1);
    expect(gw.telegram.callsOf('copyMessage', bot.token)[0].params).toMatchObject({
      chat_id: alice.id,
      from_chat_id: alice.id,
      message_id: sticker.message.message_id,
    });
  });

  it('answers callback queries', async () => {
    const bot = await gw.registerBot();
    const update = callbackQueryUpdate(alice);
    expect((await gw.deliver(bot, update)).status).toBe(200);
    await gw.telegram.waitFor(() => gw.telegram.callsOf('answerCallbackQuery', bot.token).length === 1);
    expect(gw.telegram.callsOf('answerCallbackQuery', bot.token)[0].params.callback_query_id).toBe(
      update.callback_query.id,
    );
  });

  it('processes other kinds of update without error and without calling Telegram', async () => {
    const bot = await gw.registerBot();
    const updates = [
      editedMessageUpdate(alice, 'edited'),
      channelPostUpdate('news'),
      myChatMemberUpdate(alice),
      futureKindUpdate(),
    ];
    for (const update of updates) expect((await gw.deliver(bot, update)).status).toBe(200);
    for (const update of updates) expect(await doneOf(bot, update.update_id)).toBeUndefined();
    expect(gw.telegram.calls.filter((c) => c.token === bot.token)).toHaveLength(0);
  });

  it('treats a Telegram 4xx as permanent: no retry, kept as failed with the reason', async () => {
    const bot = await gw.registerBot();
    gw.telegram.fail('sendMessage', FakeTelegram.error(400, 'Bad Request: chat not found'));
    const update = textUpdate(alice, 'to nowhere');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    const dead = await doneOf(bot, update.update_id);
    expect(dead?.reason).toContain('chat not found');
    expect(dead?.entry.n).toBe(1);
    expect(sent(bot)).toHaveLength(1);
    expect(dead?.reason).not.toContain(bot.token);
  });

  it('waits for retry_after on 429, then succeeds', async () => {
    const bot = await gw.registerBot();
    gw.telegram.fail('sendMessage', FakeTelegram.error(429, 'Too Many Requests: retry after 1', { retry_after: 1 }));
    const update = textUpdate(alice, 'rate limited');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    await gw.telegram.waitFor(() => sent(bot).length === 2, 10_000);
    const [first, second] = sent(bot);
    expect(second.at - first.at).toBeGreaterThanOrEqual(900);
    expect(await doneOf(bot, update.update_id)).toBeUndefined();
  });

  it('retries 5xx and network errors with backoff until Telegram answers', async () => {
    const bot = await gw.registerBot();
    gw.telegram.fail('sendMessage', FakeTelegram.error(502, 'Bad Gateway'), 2);
    gw.telegram.fail('sendMessage', 'network');
    const update = textUpdate(alice, 'eventually');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    await gw.telegram.waitFor(() => sent(bot).length === 4, 15_000);
    expect(await doneOf(bot, update.update_id)).toBeUndefined();
    const entryId = `${bot.record.id}-${update.update_id}`;
    const attempts = gw.logs.filter((l) => l.includes(entryId) && l.includes('Attempt '));
    expect(attempts).toHaveLength(3);
    expect(attempts[0]).toMatch(
      /Attempt 1 failed \(transient\): Telegram sendMessage failed: 502 Bad Gateway; retrying in \d+ ms/,
    );
  });

  it('gives up after JOB_ATTEMPTS transient failures and keeps it as a dead letter', async () => {
    const limited = await Harness.start({ role: 'all', env: { JOB_ATTEMPTS: '2' }, telegram: gw.telegram });
    try {
      const bot = await limited.registerBot();
      limited.telegram.fail('sendMessage', FakeTelegram.error(500, 'Internal Server Error'), 2);
      const update = textUpdate(alice, 'doomed');
      expect((await limited.deliver(bot, update)).status).toBe(200);
      await waitUntil(async () => (await limited.failed()).length === 1, 10_000, 'the update to fail');
      const [dead] = await limited.failed();
      expect(dead.reason).toMatch(/^Gave up after 2 attempts: .*500/);
      expect(limited.telegram.callsOf('sendMessage', bot.token)).toHaveLength(2);
    } finally {
      await limited.close();
    }
  });

  it("a bot in Telegram's flood wait holds no worker slot and delays no other bot", async () => {
    const small = await Harness.start({ role: 'all', env: { WORKER_CONCURRENCY: '2' }, telegram: gw.telegram });
    try {
      const flooded = await small.registerBot();
      const other = await small.registerBot();
      small.telegram.alwaysFail.set(
        flooded.token,
        FakeTelegram.error(429, 'Too Many Requests: retry after 30', { retry_after: 30 }),
      );
      // Many of the flooded bot's chats first, then the other bot's: with 2 slots, waiting chats would block it.
      const chats = Array.from({ length: 20 }, (_, i) => ({ ...alice, id: 930_000 + i }));
      for (const person of chats) expect((await small.deliver(flooded, textUpdate(person, 'x'))).status).toBe(200);
      await small.telegram.waitFor(() => small.telegram.callsOf('sendMessage', flooded.token).length >= 1, 5_000);
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        expect((await small.deliver(other, textUpdate({ ...bob, id: 940_000 + i }, `hi ${i}`))).status).toBe(200);
      }
      await small.telegram.waitFor(() => small.telegram.callsOf('sendMessage', other.token).length === 10, 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      // The flood wait is the bot's: once one call got 429, its other chats were not sent to Telegram at all.
      expect(small.telegram.callsOf('sendMessage', flooded.token).length).toBeLessThanOrEqual(2);
      // They wait in Redis, in their conversations, without a slot; nothing was dropped.
      expect(await small.queued(flooded.record.id)).toHaveLength(20);
      const metrics = await (await fetch(`${small.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(/tg_gateway_bots_in_flood_wait 1/);
    } finally {
      small.telegram.alwaysFail.clear();
      await small.close();
    }
  });

  it('serves bots in turn: a bot flooding many chats does not hold back another bot', async () => {
    const small = await Harness.start({ role: 'all', env: { WORKER_CONCURRENCY: '2' }, telegram: gw.telegram });
    small.telegram.delays.set('sendMessage', 50);
    try {
      const flood = await small.registerBot();
      const quiet = await small.registerBot();
      // 100 chats of one bot are waiting (2.5 s of work at 2 at a time) when the other bot's 4 updates arrive.
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => small.deliver(flood, textUpdate({ ...alice, id: 950_000 + i }, 'f'))),
      );
      for (let i = 0; i < 4; i++) {
        expect((await small.deliver(quiet, textUpdate({ ...bob, id: 960_000 + i }, 'q'))).status).toBe(200);
      }
      await small.telegram.waitFor(() => small.telegram.callsOf('sendMessage', quiet.token).length === 4, 10_000);
      // Round robin: the quiet bot's updates started while most of the flood still waited.
      const flooded = small.telegram.callsOf('sendMessage', flood.token).length;
      expect(flooded).toBeLessThan(50);
    } finally {
      small.telegram.delays.delete('sendMessage');
      await small.close();
    }
  });

  it('sends an update interrupted twice by dying workers to the dead letters, and its chat moves on', async () => {
    const env = testEnv(gw.telegram.apiRoot);
    const api = await Harness.start({ role: 'api', env, telegram: gw.telegram });
    try {
      const bot = await api.registerBot();
      const poison = textUpdate(alice, 'poison');
      expect((await api.deliver(bot, poison)).status).toBe(200);
      expect((await api.deliver(bot, textUpdate(alice, 'after'))).status).toBe(200);
      // What two workers dying on this update leave behind (see HOUSEKEEP in mailbox-scripts.ts).
      await api.redis.hset(`${api.config.redisPrefix}:stall`, `${bot.record.id}\nc${alice.id}`, '2');
      const worker = await Harness.start({ role: 'worker', env, telegram: gw.telegram });
      try {
        await gw.telegram.waitFor(() => gw.telegram.callsOf('sendMessage', bot.token).length === 1, 10_000);
        expect(gw.telegram.callsOf('sendMessage', bot.token)[0].params.text).toBe('after');
        const [dead] = await api.failed(bot.record.id);
        expect(dead.entry.update.update_id).toBe(poison.update_id);
        expect(dead.reason).toMatch(/^Interrupted 2 times by a worker that stopped/);
      } finally {
        await worker.app.close();
      }
    } finally {
      await api.close();
    }
  });

  it('counts processed and failed updates in /metrics', async () => {
    const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    expect(text).toMatch(/tg_gateway_updates_processed_total\{kind="message"\} [1-9]/);
    expect(text).toMatch(/tg_gateway_updates_failed_total\{kind="permanent"\} [1-9]/);
    expect(text).toMatch(/tg_gateway_updates_failed_total\{kind="rate_limited"\} [1-9]/);
    expect(text).toMatch(/tg_gateway_updates_failed_total\{kind="transient"\} [1-9]/);
  });

  it('never writes a token or a secret to the logs while processing', () => {
    const logs = gw.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const call of gw.telegram.calls) expect(logs).not.toContain(call.token);
  });
});
