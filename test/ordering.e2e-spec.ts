import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, RegisteredBot, testEnv, waitUntil } from './support/harness';
import { GatewayProcess, startProcess } from './support/processes';
import { callbackQueryUpdate, Person, textUpdate } from './support/updates';

const CHATS = 100;
const UPDATES_PER_CHAT = 50;
const BOTS = 5;

/** 50 messages of one chat: 16 full /form conversations, then a form left at its second question. */
function script(person: Person): { texts: string[]; replies: string[] } {
  const texts: string[] = [];
  const replies: string[] = [];
  for (let round = 0; texts.length < UPDATES_PER_CHAT; round++) {
    const steps: [string, string][] = [
      ['/form', 'What is your name?'],
      [`${person.first_name}-${round}`, 'How old are you?'],
      [String(round), `Thanks, ${person.first_name}-${round}! You are ${round}.`],
    ];
    for (const [text, reply] of steps) {
      if (texts.length === UPDATES_PER_CHAT) break;
      texts.push(text);
      replies.push(reply);
    }
  }
  return { texts, replies };
}

describe('per-conversation order with two worker processes', () => {
  let telegram: FakeTelegram;
  let api: Harness;
  let workers: GatewayProcess[];
  let env: Record<string, string>;
  const bots: RegisteredBot[] = [];

  beforeAll(async () => {
    telegram = await FakeTelegram.start();
    env = testEnv(telegram.apiRoot, { LOG_LEVEL: 'info' });
    api = await Harness.start({ role: 'api', env, telegram });
    for (let i = 0; i < BOTS; i++) bots.push(await api.registerBot());
    workers = [0, 1].map(() => startProcess('main-worker', { ...env, WORKER_PORT: '0' }));
    await Promise.all(workers.map((w) => w.waitForOutput('Running up to')));
  }, 60_000);

  afterAll(async () => {
    await Promise.all((workers ?? []).map((w) => w.stop('SIGKILL')));
    await api?.close();
    await telegram?.close();
  });

  it('processes 100 chats × 50 updates posted concurrently in order, each FSM ending where it should', async () => {
    const chats = Array.from({ length: CHATS }, (_, i) => ({
      bot: bots[i % BOTS],
      person: { id: 500_000 + i, first_name: `user${i}` },
    }));
    // Like Telegram: sequential within a chat (next update after the previous was acknowledged), concurrent across
    // chats.
    await Promise.all(
      chats.map(async ({ bot, person }) => {
        for (const text of script(person).texts) {
          const res = await api.deliver(bot, textUpdate(person, text));
          expect(res.status).toBe(200);
        }
      }),
    );
    const total = CHATS * UPDATES_PER_CHAT;
    await telegram.waitFor(() => telegram.callsOf('sendMessage').length >= total, 120_000, `${total} replies`);

    for (const { bot, person } of chats) {
      const replies = telegram
        .callsOf('sendMessage', bot.token)
        .filter((c) => c.params.chat_id === person.id)
        .map((c) => c.params.text as string);
      expect(replies, `chat ${person.id}`).toEqual(script(person).replies);
      const session = await api.redis.get(`${env.REDIS_PREFIX}:session:${bot.info.id}:${person.id}:${person.id}`);
      expect(JSON.parse(session!)).toEqual({ form: { step: 'age', name: `${person.first_name}-16` } });
    }
    expect(telegram.callsOf('sendMessage')).toHaveLength(total);
    // Both processes took part.
    for (const worker of workers) expect(worker.child.exitCode).toBeNull();
  }, 180_000);

  it('never runs a button press and a message of one user in one chat at once: no session write is lost', async () => {
    const bot = bots[0];
    const person = { id: 900_001, first_name: 'Racer' };
    const presses = 60;
    // Both kinds add one to the same session counter; run concurrently they would read the same value and one
    // increment would be lost. Sent as Telegram would: each kind in order, the two kinds concurrently.
    const send = async (make: () => object) => {
      for (let i = 0; i < presses; i++) expect((await api.deliver(bot, make())).status).toBe(200);
    };
    telegram.delays.set('answerCallbackQuery', 20);
    try {
      await Promise.all([send(() => textUpdate(person, '/count')), send(() => callbackQueryUpdate(person, 'count'))]);
      const counts = () =>
        telegram
          .callsOf('sendMessage', bot.token)
          .filter((c) => c.params.chat_id === person.id)
          .map((c) => c.params.text as string);
      await telegram.waitFor(() => counts().length >= 2 * presses, 60_000, `${2 * presses} counts`);
      expect(counts()).toEqual(Array.from({ length: 2 * presses }, (_, i) => `Count: ${i + 1}`));
      // grammY writes the session after the handler, so after its reply: wait for the last write, which never comes
      // if an increment was lost.
      const session = async () =>
        JSON.parse(
          (await api.redis.get(`${env.REDIS_PREFIX}:session:${bot.info.id}:${person.id}:${person.id}`)) ?? 'null',
        ) as { count: number } | null;
      await waitUntil(async () => (await session())?.count === 2 * presses, 10_000, 'the last session write').catch(
        () => undefined,
      );
      expect(await session()).toEqual({ count: 2 * presses });
    } finally {
      telegram.delays.delete('answerCallbackQuery');
    }
  }, 120_000);
});
