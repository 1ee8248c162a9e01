import { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { legacyPartitionOf, partitionQueueName } from '../src/updates/update-queue';
import { FakeTelegram } from './support/fake-telegram';
import { cleanupsAfterEach, Harness, RegisteredBot, testEnv } from './support/harness';
import { startProcess } from './support/processes';
import { Person, textUpdate } from './support/updates';

/** A job as the partition layout (before 1.0) queued it: one BullMQ job per update, deduplicated for 25 h. */
async function queueTheOldWay(queues: Map<number, Queue>, bot: RegisteredBot, update: { update_id: number }) {
  const partition = legacyPartitionOf(bot.record.id, update, 64);
  const queue = queues.get(partition)!;
  const dedupeId = `${bot.record.id}-${update.update_id}`;
  await queue.add(
    'update',
    { botId: bot.record.id, update, acceptedAt: Date.now() },
    { jobId: `${dedupeId}-old`, deduplication: { id: dedupeId, ttl: 90_000_000 }, attempts: 1 },
  );
}

describe('upgrade from the partition layout', () => {
  const cleanups = cleanupsAfterEach();

  it('processes updates still queued in the old partitions first, in order, and honours their dedupe keys', async () => {
    const telegram = await FakeTelegram.start();
    cleanups.push(() => telegram.close());
    const env = testEnv(telegram.apiRoot, { LOG_LEVEL: 'info' });
    const queues = new Map<number, Queue>();
    for (let i = 0; i < 64; i++) {
      const queue = new Queue(partitionQueueName(i), { connection: { url: env.REDIS_URL }, prefix: env.REDIS_PREFIX });
      queues.set(i, queue);
      cleanups.push(() => queue.close());
    }
    // Old API and workers stopped with updates still queued.
    const api0 = await Harness.start({ role: 'api', env, telegram });
    const bot = await api0.registerBot();
    const chats: Person[] = Array.from({ length: 5 }, (_, i) => ({ id: 920_000 + i, first_name: 'U' }));
    const old: { update_id: number }[] = [];
    for (const person of chats) {
      for (let n = 1; n <= 4; n++) {
        const update = textUpdate(person, `old ${n}`);
        old.push(update);
        await queueTheOldWay(queues, bot, update);
      }
    }
    await api0.app.close();

    // The new API starts first and accepts newer updates; Telegram also retries one update the old API had accepted.
    const api = await Harness.start({ role: 'api', env, telegram });
    cleanups.push(() => api.close());
    api.botIds.push(bot.record.id);
    for (const person of chats) {
      expect((await api.deliver(bot, textUpdate(person, 'new 1'))).status).toBe(200);
    }
    expect((await api.deliver(bot, old[0])).status).toBe(200);
    const worker = startProcess('main-worker', { ...env, WORKER_PORT: '0' });
    cleanups.push(() => worker.stop('SIGKILL'));
    await worker.waitForOutput('Running up to');

    const replies = (person: Person) =>
      telegram
        .callsOf('sendMessage', bot.token)
        .filter((c) => c.params.chat_id === person.id)
        .map((c) => c.params.text as string);
    await telegram.waitFor(() => chats.every((p) => replies(p).length >= 5), 30_000, 'every update');
    for (const person of chats) expect(replies(person)).toEqual(['old 1', 'old 2', 'old 3', 'old 4', 'new 1']);
    expect(await api.queued()).toHaveLength(0);
    // Nothing is left of the old queues but their dedupe keys.
    const leftovers = (await api.keys('updates-*')).filter((key) => !key.includes(':de:'));
    expect(leftovers).toEqual([]);
    expect(worker.output.join('')).toContain('Moved the updates of the partition layout');
  }, 90_000);
});
