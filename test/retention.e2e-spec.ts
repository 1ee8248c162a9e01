import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeTelegram } from './support/fake-telegram';
import { Harness, waitUntil } from './support/harness';
import { alice, bob, textUpdate } from './support/updates';

/**
 * Bounded Redis memory: finished jobs go once they are older than their retention, even when no other job
 * finishes after them (BullMQ alone removes old jobs only when another job completes), dedupe keys carry a TTL,
 * and the events stream is capped.
 */
describe('retention of finished jobs and dedupe keys', () => {
  let gw: Harness;

  beforeAll(async () => {
    gw = await Harness.start({
      role: 'all',
      env: { COMPLETED_JOB_RETENTION_SECONDS: '2', FAILED_JOB_RETENTION_SECONDS: '3', DEDUPE_TTL_SECONDS: '60' },
    });
  });

  afterAll(async () => {
    await gw.close();
  });

  it('removes completed and failed jobs after their retention once traffic stops, leaving only expiring keys', async () => {
    const bot = await gw.registerBot();
    const updates = Array.from({ length: 40 }, (_, i) => textUpdate(i % 2 ? alice : bob, `keep ${i}`));
    for (const update of updates) expect((await gw.deliver(bot, update)).status).toBe(200);
    await waitUntil(() => gw.telegram.callsOf('sendMessage', bot.token).length === 40, 10_000, '40 replies');
    gw.telegram.fail('sendMessage', FakeTelegram.error(400, 'Bad Request: chat not found'));
    expect((await gw.deliver(bot, textUpdate(alice, 'fails'))).status).toBe(200);
    await waitUntil(async () => (await gw.jobs(['failed'])).length === 1, 10_000, 'the failed job');

    // No further traffic: BullMQ removes old completed jobs only when another job completes, so at least the last
    // ones (and the failed one) can only go through the janitor now.
    await waitUntil(async () => (await gw.jobs(['completed', 'failed'])).length === 0, 15_000, 'finished jobs to go');

    // What remains: the queues' own bookkeeping, and dedupe keys that expire by themselves.
    const perQueue = /^updates-\d+:(meta|id|events|marker|stalled-check|limiter)$/;
    for (const key of await gw.keys()) {
      if (perQueue.test(key)) continue;
      expect(key).toMatch(/^updates-\d+:de:/);
      const ttl = await gw.redis.pttl(`${gw.config.redisPrefix}:${key}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    expect((await gw.keys('updates-*:de:*')).length).toBe(41);
  });

  it('caps the events stream of every partition', async () => {
    for (const queue of gw.queues) {
      expect(await gw.redis.hget(`${gw.config.redisPrefix}:${queue.name}:meta`, 'opts.maxLenEvents')).toBe('1000');
    }
  });
});
