import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, waitUntil } from './support/harness';
import { alice, bob, textUpdate } from './support/updates';

/**
 * Bounded Redis memory: a processed update leaves nothing behind but its dedupe key, which carries a TTL; dead
 * letters go once they are older than FAILED_JOB_RETENTION_SECONDS, even when no traffic follows; and the workers'
 * bookkeeping does not grow with traffic.
 */
describe('retention of dead letters and dedupe keys', () => {
  let gw: Harness;

  beforeAll(async () => {
    gw = await Harness.start({
      role: 'all',
      env: { FAILED_JOB_RETENTION_SECONDS: '3', DEDUPE_TTL_SECONDS: '60' },
    });
  });

  afterAll(async () => {
    await gw.close();
  });

  /** Keys whose number does not depend on traffic: the workers' heartbeats, the lease epoch, counters, wake-ups. */
  const bookkeeping = /^(epoch|pending|sig|wk|wk:[0-9a-z]+)$/;

  /** Every key left, with its type and TTL (ms, -1 for none). */
  async function leftovers(): Promise<{ key: string; type: string; ttl: number }[]> {
    const P = gw.config.redisPrefix;
    return Promise.all(
      (await gw.keys()).map(async (key) => ({
        key,
        type: await gw.redis.type(`${P}:${key}`),
        ttl: await gw.redis.pttl(`${P}:${key}`),
      })),
    );
  }

  it('removes dead letters after their retention once traffic stops, leaving only expiring dedupe keys', async () => {
    const P = gw.config.redisPrefix;
    const bot = await gw.registerBot();
    const updates = Array.from({ length: 40 }, (_, i) => textUpdate(i % 2 ? alice : bob, `keep ${i}`));
    for (const update of updates) expect((await gw.deliver(bot, update)).status).toBe(200);
    await waitUntil(() => gw.telegram.callsOf('sendMessage', bot.token).length === 40, 10_000, '40 replies');
    await waitUntil(async () => (await gw.queued()).length === 0, 10_000, 'the mailboxes to empty');

    // Processed updates leave nothing but their dedupe keys, at once (no retention to wait for).
    for (const { key, type, ttl } of await leftovers()) {
      if (bookkeeping.test(key)) continue;
      expect({ key, type }).toEqual({ key: expect.stringMatching(`^dd:${bot.record.id}:\\d+$`), type: 'string' });
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    expect((await gw.keys('dd:*')).sort()).toEqual(updates.map((u) => `dd:${bot.record.id}:${u.update_id}`).sort());

    gw.telegram.fail('sendMessage', FakeTelegram.error(400, 'Bad Request: chat not found'));
    const failing = textUpdate(alice, 'fails');
    expect((await gw.deliver(bot, failing)).status).toBe(200);
    await waitUntil(async () => (await gw.failed()).length === 1, 10_000, 'the dead letter');
    const [dead] = await gw.failed();
    expect(dead.entry.update.update_id).toBe(failing.update_id);
    const deadKeys = [`dl:${dead.id}`, 'dls', `dlb:${bot.record.id}`];
    expect((await gw.keys('dl*')).sort()).toEqual(deadKeys.sort());
    // Kept without a TTL of its own: the janitor removes it, by its age.
    expect(await gw.redis.pttl(`${P}:dl:${dead.id}`)).toBe(-1);

    // No further traffic: only the janitor can remove it now, and only once it is older than its retention.
    await waitUntil(async () => (await gw.failed()).length === 0, 15_000, 'the dead letter to go');
    expect(Date.now() - dead.failedAt).toBeGreaterThanOrEqual(3_000);
    expect(await gw.keys('dl*')).toEqual([]);

    // What remains: the workers' bookkeeping, and dedupe keys that expire by themselves.
    for (const { key, type, ttl } of await leftovers()) {
      if (bookkeeping.test(key)) continue;
      expect({ key, type }).toEqual({ key: expect.stringMatching(`^dd:${bot.record.id}:\\d+$`), type: 'string' });
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    expect((await gw.keys('dd:*')).length).toBe(41);
    expect(await gw.keys(`dd:${bot.record.id}:${failing.update_id}`)).toHaveLength(1);
    // Nothing is counted as pending, no conversation is leased, ready or delayed.
    expect(await gw.redis.get(`${P}:pending`)).toBe('0');
    expect(await gw.keys('mb:*')).toEqual([]);
    for (const key of ['lease', 'rot', 'delayed', 'paused', 'stall']) expect(await gw.keys(key), key).toEqual([]);
    expect(await gw.keys('rdy:*')).toEqual([]);
    // The heartbeats are this gateway's one worker, and expire by themselves.
    const heartbeats = await gw.keys('wk:*');
    expect(heartbeats).toHaveLength(1);
    expect(await gw.redis.pttl(`${P}:${heartbeats[0]}`)).toBeGreaterThan(0);
    expect(await gw.redis.zcard(`${P}:wk`)).toBe(1);
  });

  it('caps the wake-up list for idle workers, however many conversations become ready', async () => {
    // An API-only gateway with its own prefix: no worker takes the wake-ups away.
    const api = await Harness.start({ role: 'api', telegram: gw.telegram });
    try {
      const P = api.config.redisPrefix;
      for (let i = 0; i < 20; i++) {
        const bot = await api.registerBot();
        expect((await api.deliver(bot, textUpdate(alice, `wake ${i}`))).status).toBe(200);
      }
      expect(await api.redis.llen(`${P}:rot`)).toBe(20);
      expect(await api.redis.llen(`${P}:sig`)).toBe(16);
    } finally {
      await api.close();
    }
  });
});
