import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterEach, Harness, waitUntil } from '../../test/support/harness';
import { alice, bob, textUpdate } from '../../test/support/updates';
import { createStreamConsumer, StreamUpdate } from './consumer';

/** The example stream consumer reading a real gateway's stream destination, in Redis, as a tenant's worker would. */
describe('example stream consumer (examples/stream-consumer)', () => {
  let gw: Harness;
  const cleanups = cleanupsAfterEach();

  beforeAll(async () => {
    gw = await Harness.start();
  });

  afterAll(async () => {
    await gw?.close();
  });

  async function streamOfNewBot(): Promise<{ key: string; botId: string; deliver: (text: string) => Promise<number> }> {
    const bot = await gw.registerWithFeatures([]);
    const res = await gw.admin('POST', `/admin/bots/${bot.record.id}/destinations`, {
      kind: 'stream',
      streamMaxLen: 1000,
    });
    expect(res.status).toBe(201);
    const deliver = async (text: string) => {
      const update = textUpdate(text.startsWith('B') ? bob : alice, text);
      expect((await gw.deliver(bot, update)).status).toBe(200);
      return update.update_id;
    };
    return { key: res.body.destination.streamKey as string, botId: bot.record.id, deliver };
  }

  function client(): Redis {
    const redis = new Redis(gw.config.redisUrl);
    redis.on('error', () => undefined);
    return redis;
  }

  it('a stream consumer killed mid-batch: another claims its pending entries, every update is handled', async () => {
    const { key, botId, deliver } = await streamOfNewBot();
    const sent: number[] = [];
    for (let n = 1; n <= 12; n++) sent.push(await deliver(`${n % 2 ? 'A' : 'B'} ${n}`));
    // The gateway wrote the stream when it accepted each update.
    expect(await gw.redis.xlen(key)).toBe(12);

    // Consumer A reads a batch of 5 and dies while handling its first entry, before any XACK.
    const aRedis = client();
    const seenByA: StreamUpdate[] = [];
    const a = createStreamConsumer({
      redis: aRedis,
      stream: key,
      consumer: 'a',
      count: 5,
      blockMs: 100,
      log: () => undefined,
      handle: (entry) => {
        seenByA.push(entry);
        return new Promise<void>(() => undefined); // never finishes
      },
    });
    await a.start();
    await waitUntil(() => seenByA.length === 1, 5_000, 'A to take its batch');
    const pendingOfA = await gw.redis.xpending(key, 'tg-consumers', '-', '+', 100, 'a');
    expect(pendingOfA).toHaveLength(5);
    aRedis.disconnect(); // kill: the connection drops, nothing acknowledged

    // More updates arrive while nobody reads.
    for (let n = 13; n <= 15; n++) sent.push(await deliver(`A ${n}`));

    // Consumer B starts: claims A's entries once they are idle for minIdleMs, then reads the rest.
    const handledByB: StreamUpdate[] = [];
    const b = createStreamConsumer({
      redis: gw.config.redisUrl,
      stream: key,
      consumer: 'b',
      count: 5,
      blockMs: 100,
      minIdleMs: 300,
      log: () => undefined,
      handle: (entry) => void handledByB.push(entry),
    });
    await b.start();
    cleanups.push(() => b.stop());
    await waitUntil(
      () => new Set(handledByB.map((e) => e.updateId)).size === sent.length,
      10_000,
      'B to handle every update',
    );
    expect(handledByB.map((e) => e.updateId).sort()).toEqual([...sent].sort());
    expect(handledByB.every((e) => e.bot === botId && e.kind === 'message')).toBe(true);
    // The update A was handling when it died is handled again: at least once.
    expect(handledByB.map((e) => e.updateId)).toContain(seenByA[0].updateId);
    expect(handledByB.find((e) => e.updateId === seenByA[0].updateId)?.update).toEqual(seenByA[0].update);
    // Nothing left pending for anyone.
    await waitUntil(
      async () => ((await gw.redis.xpending(key, 'tg-consumers')) as [number])[0] === 0,
      5_000,
      'every entry acknowledged',
    );

    // New updates keep flowing to B.
    const late = await deliver('A late');
    await waitUntil(() => handledByB.some((e) => e.updateId === late), 5_000, 'a later update');
  });

  it('picks up its own unacknowledged entries after a restart under the same name', async () => {
    const { key, deliver } = await streamOfNewBot();
    const sent = [await deliver('A 1'), await deliver('A 2'), await deliver('A 3')];
    const firstRedis = client();
    const first = createStreamConsumer({
      redis: firstRedis,
      stream: key,
      consumer: 'worker-1',
      count: 10,
      blockMs: 100,
      log: () => undefined,
      handle: () => new Promise<void>(() => undefined),
    });
    await first.start();
    await waitUntil(
      async () => ((await gw.redis.xpending(key, 'tg-consumers')) as [number])[0] === 3,
      5_000,
      'the batch read',
    );
    firstRedis.disconnect();

    // Same name, long minIdleMs: not a claim, its own pending entries are read again first.
    const handled: number[] = [];
    const again = createStreamConsumer({
      redis: gw.config.redisUrl,
      stream: key,
      consumer: 'worker-1',
      blockMs: 100,
      minIdleMs: 60_000,
      log: () => undefined,
      handle: (entry) => void handled.push(entry.updateId),
    });
    await again.start();
    cleanups.push(() => again.stop());
    expect(handled).toEqual(sent);
  });
});
