import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeadLetterRecord } from '../src/updates/dead-letters.service';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, jsonOf, RegisteredBot, waitUntil } from './support/harness';
import { alice, bob, Person, textUpdate } from './support/updates';

const carol: Person = { id: 1003, first_name: 'Carol' };
const CHAT_NOT_FOUND = FakeTelegram.error(400, 'Bad Request: chat not found');
const PERMANENT_REASON = 'Telegram sendMessage failed: 400 Bad Request: chat not found';

interface Answer {
  status: number;
  raw: string;
  body: any;
}

interface DeadLetter {
  update: ReturnType<typeof textUpdate>;
  /** `<bot id>-<update_id>-<n>`, read from the record in Redis (not from the API under test). */
  id: string;
}

describe('dead letters', () => {
  let gw: Harness;
  let tg: FakeTelegram;
  /** Every raw answer of the admin API in this file, checked for tokens and secrets at the end. */
  const answers: string[] = [];
  const bots: RegisteredBot[] = [];

  beforeAll(async () => {
    gw = await Harness.start({ role: 'all', env: { JOB_ATTEMPTS: '3' } });
    tg = gw.telegram;
  });

  afterAll(async () => {
    await gw.close();
  });

  // Each test starts without dead letters; emptied straight in Redis, not through the API under test.
  beforeEach(async () => {
    const keys = [...(await gw.keys('dl:*')), ...(await gw.keys('dlb:*')), 'dls'];
    await gw.redis.del(...keys.map((key) => `${gw.config.redisPrefix}:${key}`));
    expect(await gw.failed()).toEqual([]);
  });

  async function call(method: string, path: string, key: string | null = gw.config.adminApiKeys[0]): Promise<Answer> {
    const res = await fetch(`${gw.baseUrl}${path}`, {
      method,
      headers: key === null ? {} : { authorization: `Bearer ${key}` },
    });
    const raw = await res.text();
    answers.push(raw);
    return { status: res.status, raw, body: raw ? JSON.parse(raw) : undefined };
  }

  function expectError(res: Answer, status: number, code: string): void {
    expect(res.status, res.raw).toBe(status);
    expect(res.body).toEqual({ statusCode: status, error: expect.any(String), message: expect.any(String), code });
  }

  async function registerBot(): Promise<RegisteredBot> {
    const bot = await gw.registerBot();
    bots.push(bot);
    return bot;
  }

  /** Waits until the update left its mailbox; its dead letter (as stored in Redis) if it failed for good. */
  async function doneOf(bot: RegisteredBot, updateId: number): Promise<DeadLetterRecord | undefined> {
    await waitUntil(
      async () => !(await gw.queued(bot.record.id)).some((e) => e.update.update_id === updateId),
      10_000,
      `update ${updateId} to be done`,
    );
    return (await gw.failed(bot.record.id)).find((r) => r.entry.update.update_id === updateId);
  }

  /** Waits until the update was processed: out of its mailbox, and no dead letter of it. */
  async function processed(bot: RegisteredBot, updateId: number): Promise<void> {
    expect(await doneOf(bot, updateId), `update ${updateId} to be processed`).toBeUndefined();
  }

  /** Waits until the update failed for good; its dead letter as stored, with an id of the documented form. */
  async function deadOf(bot: RegisteredBot, updateId: number): Promise<DeadLetterRecord> {
    const dead = await doneOf(bot, updateId);
    expect(dead, `update ${updateId} to be a dead letter`).toBeDefined();
    expect(dead!.id).toMatch(new RegExp(`^${bot.record.id}-${updateId}-\\d+$`));
    expect(dead!.botId).toBe(bot.record.id);
    return dead!;
  }

  /** Delivers a message whose reply Telegram refuses with 400, and waits until the update has failed for good. */
  async function deadLetter(bot: RegisteredBot, text: string, from: Person = alice): Promise<DeadLetter> {
    tg.fail('sendMessage', CHAT_NOT_FOUND);
    const update = textUpdate(from, text);
    expect((await gw.deliver(bot, update)).status).toBe(200);
    return { update, id: (await deadOf(bot, update.update_id)).id };
  }

  /** The dead letter's keys in Redis: its record, and its entries in the index of all and in its bot's. */
  async function storedAs(id: string, botId: string) {
    const P = gw.config.redisPrefix;
    return {
      record: await gw.redis.exists(`${P}:dl:${id}`),
      all: await gw.redis.zscore(`${P}:dls`, id),
      ofBot: await gw.redis.zscore(`${P}:dlb:${botId}`, id),
    };
  }

  /** The replies with this text the fake Telegram received for the bot, refused or not. */
  const replies = (bot: RegisteredBot, text: string) =>
    tg.callsOf('sendMessage', bot.token).filter((c) => c.params.text === text);

  const listed = async (query = ''): Promise<string[]> => {
    const res = await call('GET', `/admin/dead-letters${query}`);
    expect(res.status, res.raw).toBe(200);
    return res.body.items.map((item: { id: string }) => item.id);
  };

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${gw.baseUrl}/metrics`)).text();
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    expect(match, name).not.toBeNull();
    return Number(match![1]);
  }

  it('keeps an update Telegram refuses as a dead letter with its reason, without holding up its chat', async () => {
    const bot = await registerBot();
    tg.fail('sendMessage', CHAT_NOT_FOUND);
    const failing = textUpdate(alice, 'refused');
    const later = textUpdate(alice, 'after the refused one');
    expect((await gw.deliver(bot, failing)).status).toBe(200);
    expect((await gw.deliver(bot, later)).status).toBe(200);

    // The chat's next update is processed: its reply reaches Telegram.
    await tg.waitFor(() => replies(bot, 'after the refused one').length === 1, 10_000, 'the later reply');
    await processed(bot, later.update_id);
    const failed = await deadOf(bot, failing.update_id);
    expect(replies(bot, 'refused')).toHaveLength(1); // a 4xx is not retried
    // Stored with its conversation (where a retry goes back to) and its one failed attempt.
    expect(failed).toMatchObject({ ck: `c${alice.id}`, reason: PERMANENT_REASON, entry: { n: 1, update: failing } });
    expect(failed.entry.log).toHaveLength(1);
    expect(await gw.queued(bot.record.id)).toEqual([]);

    const list = await call('GET', '/admin/dead-letters');
    expect(list.status, list.raw).toBe(200);
    expect(list.body).toEqual({
      items: [
        {
          id: failed.id,
          botId: bot.record.id,
          destinationId: null,
          updateId: failing.update_id,
          kind: 'message',
          reason: PERMANENT_REASON,
          acceptedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
      ],
      nextCursor: null,
    });
    const [item] = list.body.items;
    expect(Date.parse(item.failedAt)).toBeGreaterThanOrEqual(Date.parse(item.acceptedAt));

    const show = await call('GET', `/admin/dead-letters/${item.id}`);
    expect(show.status, show.raw).toBe(200);
    expect(show.body).toEqual({
      ...item,
      update: failing,
      attempts: [expect.stringMatching(/^Attempt 1 failed \(permanent\): .*chat not found; not retried$/)],
    });
  });

  it('shows every retried attempt of an update that used all JOB_ATTEMPTS', async () => {
    const bot = await registerBot();
    tg.fail('sendMessage', FakeTelegram.error(500, 'Internal Server Error'), 3);
    const update = textUpdate(bob, 'flaky');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    const { id } = await deadOf(bot, update.update_id);

    const show = await call('GET', `/admin/dead-letters/${id}`);
    expect(show.status, show.raw).toBe(200);
    expect(show.body.reason).toBe('Gave up after 3 attempts: Telegram sendMessage failed: 500 Internal Server Error');
    expect(show.body.update).toEqual(update);
    expect(show.body.attempts).toEqual([
      expect.stringMatching(/^Attempt 1 failed \(transient\): .*500 Internal Server Error; retrying in \d+ ms$/),
      expect.stringMatching(/^Attempt 2 failed \(transient\): .*500 Internal Server Error; retrying in \d+ ms$/),
      expect.stringMatching(/^Attempt 3 failed \(transient\): .*500 Internal Server Error; giving up$/),
    ]);
    expect(replies(bot, 'flaky')).toHaveLength(3);
  });

  it('lists newest first, of all bots or of one (UUID, Telegram id or @username), a page at a time', async () => {
    const a = await registerBot();
    const b = await registerBot();
    const a1 = await deadLetter(a, 'a1', alice);
    const b1 = await deadLetter(b, 'b1', alice);
    const a2 = await deadLetter(a, 'a2', bob);
    const b2 = await deadLetter(b, 'b2', bob);
    const a3 = await deadLetter(a, 'a3', carol);

    expect(await listed()).toEqual([a3.id, b2.id, a2.id, b1.id, a1.id]);
    const ofA = [a3.id, a2.id, a1.id];
    for (const ref of [a.record.id, String(a.info.id), `@${a.info.username}`, `%40${a.info.username}`]) {
      expect(await listed(`?bot=${ref}`), ref).toEqual(ofA);
    }
    expect(await listed(`?bot=@${b.info.username}`)).toEqual([b2.id, b1.id]);

    // Pages of 2, following nextCursor.
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res = await call('GET', `/admin/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.raw).toBe(200);
      pages.push(res.body.items.map((item: { id: string }) => item.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages).toEqual([[a3.id, b2.id], [a2.id, b1.id], [a1.id]]);
    const ofB = await call('GET', `/admin/dead-letters?bot=${b.record.id}&limit=2`);
    expect(ofB.body.nextCursor).toBeNull();
    const afterA2 = await call('GET', `/admin/dead-letters?bot=${a.record.id}&cursor=${a2.id}`);
    expect(afterA2.body).toMatchObject({ items: [{ id: a1.id, updateId: a1.update.update_id }], nextCursor: null });
  });

  it('pages through dead letters that failed in the same millisecond, in and across conversations, each once', async () => {
    const a = await registerBot();
    const b = await registerBot();
    const letters = [
      await deadLetter(a, 'a-alice-1', alice),
      await deadLetter(a, 'a-alice-2', alice), // the same chat: the same conversation as the first
      await deadLetter(a, 'a-bob', bob),
      await deadLetter(b, 'b-alice', alice),
      await deadLetter(b, 'b-bob', bob),
      await deadLetter(b, 'b-carol', carol),
    ];
    // One failure time for all, in both indexes: only the tie-break (the id, descending) orders them.
    const at = Date.now();
    const P = gw.config.redisPrefix;
    for (const [i, { id }] of letters.entries()) {
      const ofBot = `${P}:dlb:${(i < 3 ? a : b).record.id}`;
      await gw.redis.zadd(`${P}:dls`, 'XX', at, id);
      await gw.redis.zadd(ofBot, 'XX', at, id);
      expect([await gw.redis.zscore(`${P}:dls`, id), await gw.redis.zscore(ofBot, id)]).toEqual([
        String(at),
        String(at),
      ]);
    }
    const expected = letters.map(({ id }) => id).sort((x, y) => (x < y ? 1 : -1));
    expect(new Set(expected).size).toBe(letters.length);
    expect(await listed()).toEqual(expected);

    const pageThrough = async (query: string, limit: number) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        const res = await call('GET', `/admin/dead-letters?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status, res.raw).toBe(200);
        seen.push(...res.body.items.map((item: { id: string }) => item.id));
        cursor = res.body.nextCursor;
        if (cursor === null) break;
      }
      return seen;
    };
    expect(await pageThrough('', 1)).toEqual(expected);
    expect(await pageThrough('', 4)).toEqual(expected);
    const ofA = new Set(letters.slice(0, 3).map(({ id }) => id));
    expect(await pageThrough(`&bot=${a.record.id}`, 1)).toEqual(expected.filter((id) => ofA.has(id)));
  });

  it('leaves out a dead letter whose record vanished while the list was read, keeping the others right', async () => {
    const bot = await registerBot();
    const first = await deadLetter(bot, 'first', alice);
    const gone = await deadLetter(bot, 'gone', bob);
    const last = await deadLetter(bot, 'last', carol);
    // What a purge or the retention cleanup racing with a list leaves: the id in the indexes, the record deleted.
    const P = gw.config.redisPrefix;
    expect(await gw.redis.del(`${P}:dl:${gone.id}`)).toBe(1);
    expect(await storedAs(gone.id, bot.record.id)).toEqual({
      record: 0,
      all: expect.any(String),
      ofBot: expect.any(String),
    });
    try {
      const res = await call('GET', '/admin/dead-letters');
      expect(res.status, res.raw).toBe(200);
      expect(res.body.items.map((item: { id: string; updateId: number }) => [item.id, item.updateId])).toEqual([
        [last.id, last.update.update_id],
        [first.id, first.update.update_id],
      ]);
      const ofBot = await call('GET', `/admin/dead-letters?bot=${bot.record.id}&limit=1`);
      expect(ofBot.status, ofBot.raw).toBe(200);
      expect(ofBot.body.items.map((item: { id: string }) => item.id)).toEqual([last.id]);
    } finally {
      await gw.redis.zrem(`${P}:dls`, gone.id);
      await gw.redis.zrem(`${P}:dlb:${bot.record.id}`, gone.id);
    }
  });

  it('refuses unknown bots, bad cursors and out-of-range queries', async () => {
    const bot = await registerBot();
    await deadLetter(bot, 'kept');
    expectError(await call('GET', '/admin/dead-letters?bot=@no_such_bot_here'), 404, 'bot_not_found');
    expectError(
      await call('GET', '/admin/dead-letters?bot=00000000-0000-4000-8000-000000000000'),
      404,
      'bot_not_found',
    );
    expectError(await call('GET', '/admin/dead-letters?bot=not%20a%20bot'), 404, 'bot_not_found');
    expectError(await call('GET', '/admin/dead-letters?cursor=0.no-such-job'), 400, 'invalid_cursor');
    expectError(await call('GET', `/admin/dead-letters?cursor=${bot.record.id}-1-1`), 400, 'invalid_cursor');
    const invalid: [string, RegExp][] = [
      ['?limit=0', /^limit must not be less than 1$/],
      ['?limit=201', /^limit must not be greater than 200$/],
      ['?limit=abc', /^limit must be an integer number$/],
      ['?bot=', /^bot must be longer than or equal to 1 characters$/],
      ['?bot=a&bot=b', /^bot must be a string$/],
      [`?cursor=${'x'.repeat(201)}`, /^cursor must be shorter than or equal to 200 characters$/],
      ['?state=failed', /^property state should not exist$/],
    ];
    for (const [query, message] of invalid) {
      const res = await call('GET', `/admin/dead-letters${query}`);
      expectError(res, 400, 'validation_failed');
      expect(res.body.message, query).toMatch(message);
    }
    expect(await listed(`?bot=${bot.record.id}`)).toHaveLength(1);
  });

  it('retries one dead letter: it is processed, its reply reaches Telegram, and it leaves the list', async () => {
    const bot = await registerBot();
    const other = await deadLetter(bot, 'still dead', bob);
    const { update, id } = await deadLetter(bot, 'second chance');

    const res = await call('POST', `/admin/dead-letters/${id}/retry`);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({
      id,
      botId: bot.record.id,
      updateId: update.update_id,
      kind: 'message',
      reason: PERMANENT_REASON,
    });

    await tg.waitFor(() => replies(bot, 'second chance').length === 2, 10_000, 'the retried reply');
    await processed(bot, update.update_id);
    expect(await storedAs(id, bot.record.id)).toEqual({ record: 0, all: null, ofBot: null });
    expect(await listed()).toEqual([other.id]);
    expectError(await call('GET', `/admin/dead-letters/${id}`), 404, 'dead_letter_not_found');
    expectError(await call('POST', `/admin/dead-letters/${id}/retry`), 404, 'dead_letter_not_found');
    expect(replies(bot, 'second chance')).toHaveLength(2);
    expect(replies(bot, 'still dead')).toHaveLength(1);
  });

  it('puts a retried update that fails again back among the dead letters', async () => {
    const bot = await registerBot();
    const { update, id } = await deadLetter(bot, 'doomed twice');
    tg.fail('sendMessage', CHAT_NOT_FOUND);
    expect((await call('POST', `/admin/dead-letters/${id}/retry`)).status).toBe(200);
    await tg.waitFor(() => replies(bot, 'doomed twice').length === 2, 10_000, 'the retried attempt');
    // A new dead letter (a new id: `<n>` names the failure), the old one gone.
    const again = await deadOf(bot, update.update_id);
    expect(again.id).not.toBe(id);
    expect(await listed()).toEqual([again.id]);
    expectError(await call('GET', `/admin/dead-letters/${id}`), 404, 'dead_letter_not_found');
    const show = await call('GET', `/admin/dead-letters/${again.id}`);
    expect(show.body).toMatchObject({ id: again.id, updateId: update.update_id, reason: PERMANENT_REASON, update });
    // The retry was a new delivery: its attempts are counted afresh.
    expect(show.body.attempts).toEqual([
      expect.stringMatching(/^Attempt 1 failed \(permanent\): .*chat not found; not retried$/),
    ]);
    expect(await gw.queued(bot.record.id)).toEqual([]);
  });

  it("retries every dead letter of one bot, and only that bot's", async () => {
    const a = await registerBot();
    const b = await registerBot();
    const a1 = await deadLetter(a, 'a one', alice);
    const a2 = await deadLetter(a, 'a two', bob);
    const b1 = await deadLetter(b, 'b one', alice);

    const res = await call('POST', `/admin/bots/@${a.info.username}/dead-letters/retry`);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toEqual({ retried: 2 });
    await processed(a, a1.update.update_id);
    await processed(a, a2.update.update_id);
    expect(replies(a, 'a one')).toHaveLength(2);
    expect(replies(a, 'a two')).toHaveLength(2);
    expect(await listed()).toEqual([b1.id]);
    expect(replies(b, 'b one')).toHaveLength(1);

    expect((await call('POST', `/admin/bots/${a.record.id}/dead-letters/retry`)).body).toEqual({ retried: 0 });
    expectError(await call('POST', '/admin/bots/@no_such_bot_here/dead-letters/retry'), 404, 'bot_not_found');
    expect(await listed()).toEqual([b1.id]);
  });

  it('purges one dead letter, those of a bot, or all with all=true, and refuses a bare DELETE', async () => {
    const a = await registerBot();
    const b = await registerBot();
    const a1 = await deadLetter(a, 'purge a1', alice);
    const a2 = await deadLetter(a, 'purge a2', bob);
    const b1 = await deadLetter(b, 'purge b1', alice);
    const b2 = await deadLetter(b, 'purge b2', bob);
    const all = [b2.id, b1.id, a2.id, a1.id];

    // Nothing is purged by accident: without bot, all=true is required, and both at once is ambiguous.
    const bare = await call('DELETE', '/admin/dead-letters');
    expectError(bare, 400, 'validation_failed');
    expect(bare.body.message).toMatch(/all=true/);
    expect(bare.body.message).toMatch(/bot=/);
    expectError(await call('DELETE', '/admin/dead-letters?all=false'), 400, 'validation_failed');
    const notBoolean = await call('DELETE', '/admin/dead-letters?all=yes');
    expectError(notBoolean, 400, 'validation_failed');
    expect(notBoolean.body.message).toBe('all must be a boolean value');
    expectError(await call('DELETE', `/admin/dead-letters?bot=${a.record.id}&all=true`), 400, 'validation_failed');
    expectError(await call('DELETE', '/admin/dead-letters?bot=@no_such_bot_here'), 404, 'bot_not_found');
    expect(await listed()).toEqual(all);

    const one = await call('DELETE', `/admin/dead-letters/${a1.id}`);
    expect(one.status, one.raw).toBe(200);
    expect(one.body).toEqual({ purged: 1 });
    expect(await listed()).toEqual([b2.id, b1.id, a2.id]);
    // Gone from Redis, not just hidden; and it cannot be retried any more.
    const ids = (await gw.failed()).map((r) => r.id);
    expect(ids).not.toContain(a1.id);
    expect(ids).toContain(a2.id);
    expect(await storedAs(a1.id, a.record.id)).toEqual({ record: 0, all: null, ofBot: null });
    expect(await storedAs(a2.id, a.record.id)).toEqual({
      record: 1,
      all: expect.any(String),
      ofBot: expect.any(String),
    });
    expectError(await call('POST', `/admin/dead-letters/${a1.id}/retry`), 404, 'dead_letter_not_found');
    expectError(await call('DELETE', `/admin/dead-letters/${a1.id}`), 404, 'dead_letter_not_found');
    // The dedupe key outlives the purge: Telegram sending the update again (its 200 lost on the way) is answered
    // as a duplicate, not processed a second time.
    const sentBefore = replies(a, 'purge a1').length;
    expect((await gw.deliver(a, a1.update)).status).toBe(200);
    expect((await gw.queued(a.record.id)).filter((e) => e.update.update_id === a1.update.update_id)).toEqual([]);
    expect((await gw.failed(a.record.id)).filter((r) => r.entry.update.update_id === a1.update.update_id)).toEqual([]);
    expect(await gw.keys(`dd:${a.record.id}:${a1.update.update_id}`)).toHaveLength(1);
    expect(replies(a, 'purge a1')).toHaveLength(sentBefore);

    expect((await call('DELETE', `/admin/dead-letters?bot=@${a.info.username}`)).body).toEqual({ purged: 1 });
    expect(await listed()).toEqual([b2.id, b1.id]);
    expect((await call('DELETE', `/admin/dead-letters?bot=${a.record.id}`)).body).toEqual({ purged: 0 });

    const everything = await call('DELETE', '/admin/dead-letters?all=true');
    expect(everything.status, everything.raw).toBe(200);
    expect(everything.body).toEqual({ purged: 2 });
    expect(await listed()).toEqual([]);
    expect(await gw.failed()).toEqual([]);
    // No record and no index left behind.
    expect([...(await gw.keys('dl:*')), ...(await gw.keys('dls')), ...(await gw.keys('dlb:*'))]).toEqual([]);
    // Purged updates are never processed.
    for (const [bot, text] of [
      [a, 'purge a1'],
      [a, 'purge a2'],
      [b, 'purge b1'],
      [b, 'purge b2'],
    ] as const) {
      expect(replies(bot, text), text).toHaveLength(1);
    }
  });

  it('answers 404 for ids that name no dead letter, on every endpoint', async () => {
    const bot = await registerBot();
    const update = textUpdate(alice, 'all good');
    expect((await gw.deliver(bot, update)).status).toBe(200);
    await processed(bot, update.update_id);
    const dead = await deadLetter(bot, 'dead');
    const n = Number(dead.id.slice(dead.id.lastIndexOf('-') + 1));
    const other = await registerBot();
    const unknown = [
      'nope',
      '0.nope',
      // The dead letter's update without its failure number, or with another one; the old partition form.
      `${bot.record.id}-${dead.update.update_id}`,
      `${bot.record.id}-${dead.update.update_id}-${n + 1}`,
      `0.${dead.id}`,
      `${dead.id}0`,
      // The same update_id and number of another bot; an update that did not fail.
      `${other.record.id}-${dead.update.update_id}-${n}`,
      `${bot.record.id}-${update.update_id}-${n - 1}`,
      `${bot.record.id}-${update.update_id}`,
      // Redis key patterns are not patterns here.
      `${bot.record.id}-*`,
    ];
    for (const id of unknown) {
      expectError(await call('GET', `/admin/dead-letters/${id}`), 404, 'dead_letter_not_found');
      expectError(await call('POST', `/admin/dead-letters/${id}/retry`), 404, 'dead_letter_not_found');
      expectError(await call('DELETE', `/admin/dead-letters/${id}`), 404, 'dead_letter_not_found');
    }
    expect(await listed()).toEqual([dead.id]);
    expect(replies(bot, 'all good')).toHaveLength(1);
  });

  it('answers 401 without a key or with a wrong one, and changes nothing', async () => {
    const bot = await registerBot();
    const { id } = await deadLetter(bot, 'guarded');
    const requests: [string, string][] = [
      ['GET', '/admin/dead-letters'],
      ['GET', `/admin/dead-letters?bot=${bot.record.id}`],
      ['GET', `/admin/dead-letters/${id}`],
      ['POST', `/admin/dead-letters/${id}/retry`],
      ['POST', `/admin/bots/${bot.record.id}/dead-letters/retry`],
      ['DELETE', `/admin/dead-letters/${id}`],
      ['DELETE', `/admin/dead-letters?bot=${bot.record.id}`],
      ['DELETE', '/admin/dead-letters?all=true'],
      ['DELETE', '/admin/dead-letters'],
    ];
    for (const [method, path] of requests) {
      for (const key of [null, 'wrong-admin-key-0123456789abcdefgh']) {
        const res = await call(method, path, key);
        expectError(res, 401, 'unauthorized');
        expect(res.raw).not.toContain(bot.record.id);
      }
    }
    expect(await listed()).toEqual([id]);
    expect(replies(bot, 'guarded')).toHaveLength(1);
  });

  it('reports the count and the age of the oldest in /metrics, 0 once purged', async () => {
    expect(await metric('tg_gateway_dead_letters')).toBe(0);
    expect(await metric('tg_gateway_oldest_dead_letter_age_seconds')).toBe(0);

    const bot = await registerBot();
    await deadLetter(bot, 'counted 1', alice);
    await deadLetter(bot, 'counted 2', bob);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await metric('tg_gateway_dead_letters')).toBe(2);
    const age = await metric('tg_gateway_oldest_dead_letter_age_seconds');
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(60);

    // The age is the oldest one's: purging the newer leaves it, purging both brings it to 0.
    const [newest, oldest] = await listed();
    expect((await call('DELETE', `/admin/dead-letters/${newest}`)).body).toEqual({ purged: 1 });
    expect(await listed()).toEqual([oldest]);
    expect(await metric('tg_gateway_dead_letters')).toBe(1);
    expect(await metric('tg_gateway_oldest_dead_letter_age_seconds')).toBeGreaterThanOrEqual(age);

    expect((await call('DELETE', '/admin/dead-letters?all=true')).body).toEqual({ purged: 1 });
    expect(await metric('tg_gateway_dead_letters')).toBe(0);
    expect(await metric('tg_gateway_oldest_dead_letter_age_seconds')).toBe(0);
  });

  it('documents the dead-letter endpoints in the OpenAPI document, with examples', async () => {
    const doc = await jsonOf(await fetch(`${gw.baseUrl}/docs/json`));
    await SwaggerParser.validate(structuredClone(doc));
    const operations: Record<string, string[]> = {
      '/admin/dead-letters': ['delete', 'get'],
      '/admin/dead-letters/{id}': ['delete', 'get'],
      '/admin/dead-letters/{id}/retry': ['post'],
      '/admin/bots/{id}/dead-letters/retry': ['post'],
    };
    for (const [path, methods] of Object.entries(operations)) {
      expect(Object.keys(doc.paths[path] ?? {}).sort(), path).toEqual(methods);
      for (const method of methods) {
        const operation = doc.paths[path][method];
        expect(operation.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
        expect(Object.keys(operation.responses), `${method} ${path}`).toEqual(
          expect.arrayContaining(['200', '401', '404']),
        );
        for (const param of operation.parameters ?? []) {
          expect(param.schema.example ?? param.example, `${method} ${path} ${param.name}`).toBeDefined();
        }
      }
    }
    const params = (path: string, method: string) =>
      doc.paths[path][method].parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort();
    expect(params('/admin/dead-letters', 'get')).toEqual(['query:bot', 'query:cursor', 'query:limit']);
    expect(params('/admin/dead-letters', 'delete')).toEqual(['query:all', 'query:bot']);
    const ok = (path: string, method: string) =>
      doc.paths[path][method].responses['200'].content['application/json'].schema.$ref;
    expect(ok('/admin/dead-letters', 'get')).toBe('#/components/schemas/DeadLetterPageDto');
    expect(ok('/admin/dead-letters/{id}', 'get')).toBe('#/components/schemas/DeadLetterDetailDto');
    expect(ok('/admin/dead-letters/{id}/retry', 'post')).toBe('#/components/schemas/DeadLetterDto');
    expect(ok('/admin/bots/{id}/dead-letters/retry', 'post')).toBe('#/components/schemas/RetriedDeadLettersDto');
    expect(ok('/admin/dead-letters', 'delete')).toBe('#/components/schemas/PurgedDeadLettersDto');
    const schemas = doc.components.schemas;
    for (const name of ['DeadLetterDto', 'DeadLetterDetailDto', 'RetriedDeadLettersDto', 'PurgedDeadLettersDto']) {
      for (const [property, schema] of Object.entries<any>(schemas[name].properties)) {
        if (schema.$ref || schema.items?.$ref) continue;
        expect(schema.example, `${name}.${property}`).toBeDefined();
      }
    }
    expect(schemas.DeadLetterDetailDto.properties.update.example).toHaveProperty('update_id');
  });

  it('never answered with a token or a webhook secret', () => {
    expect(answers.length).toBeGreaterThan(50);
    expect(bots.length).toBeGreaterThan(5);
    const everything = answers.join('\n');
    for (const bot of bots) {
      expect(everything).not.toContain(bot.token);
      expect(everything).not.toContain(bot.token.split(':')[1]);
      expect(everything).not.toContain(bot.secret);
    }
    expect(everything).not.toMatch(/\d{5,20}:[A-Za-z0-9_-]{30,}/);
  });
});
