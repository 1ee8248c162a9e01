/**
 * Reads a tg-gateway stream destination with a Redis consumer group: at least once, crash-safe.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 STREAM_KEY=tg-gateway:st:<destination id> npx tsx examples/stream-consumer/consumer.ts
 *
 * - The group is created if missing (XGROUP CREATE ... MKSTREAM), from the start of the stream.
 * - On start, and then every MIN_IDLE_MS, entries another consumer read but never acknowledged for MIN_IDLE_MS (it
 *   crashed, or is stuck) are taken over with XAUTOCLAIM; this consumer's own unacknowledged entries (a restart under
 *   the same CONSUMER name) are read again first.
 * - Each entry is acknowledged (XACK) only after it was handled: a crash in between means it is handled again by
 *   whoever claims it. Make handling idempotent, e.g. keyed on (bot, update_id).
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Update } from 'grammy/types';

/** One entry of the stream: the gateway's fields `bot`, `update_id`, `kind`, `update` (JSON text). */
export interface StreamUpdate {
  /** The stream entry id (`<ms>-<seq>`). */
  id: string;
  /** The gateway's bot id. */
  bot: string;
  updateId: number;
  /** The update's kind: `message`, `callback_query`, ... */
  kind: string;
  update: Update;
}

export interface StreamConsumerOptions {
  /** A Redis URL (the consumer owns that connection) or a client (yours: `stop()` leaves it open). */
  redis: string | Redis;
  /** The destination's `streamKey` from the admin API. */
  stream: string;
  group?: string;
  /** Unique per running consumer; a restart under the same name picks up its own unacknowledged entries first. */
  consumer?: string;
  /** Entries read per XREADGROUP. */
  count?: number;
  /** How long one XREADGROUP waits for new entries. */
  blockMs?: number;
  /** Entries unacknowledged this long belong to a dead consumer and are claimed (longer than your slowest handling). */
  minIdleMs?: number;
  /** Where a new group starts: `0` (the whole stream still there) or `$` (only entries added from now on). */
  startId?: string;
  handle: (entry: StreamUpdate) => Promise<void> | void;
  log?: (line: Record<string, unknown>) => void;
}

export interface StreamConsumer {
  /** Creates the group if needed, recovers pending entries, then reads until `stop()`. Resolves once running. */
  start(): Promise<void>;
  /** Finishes the entry being handled, then stops (at most `blockMs` later). */
  stop(): Promise<void>;
}

type RawEntry = [id: string, fields: string[] | null];

export function createStreamConsumer(options: StreamConsumerOptions): StreamConsumer {
  const owned = typeof options.redis === 'string';
  const redis = typeof options.redis === 'string' ? new Redis(options.redis) : options.redis;
  const group = options.group ?? 'tg-consumers';
  const me = options.consumer ?? `${hostname()}-${process.pid}`;
  const count = options.count ?? 10;
  const blockMs = options.blockMs ?? 5_000;
  const minIdleMs = options.minIdleMs ?? 60_000;
  const log = options.log ?? ((line) => console.log(JSON.stringify(line)));
  const key = options.stream;
  let stopping = false;
  let loop: Promise<void> | undefined;

  async function ensureGroup(): Promise<void> {
    try {
      await redis.xgroup('CREATE', key, group, options.startId ?? '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  async function handleAll(entries: RawEntry[]): Promise<void> {
    for (const [id, fields] of entries) {
      if (stopping) return;
      if (!fields) {
        // Trimmed (MAXLEN) after it was read and before it was acknowledged: its content is gone.
        log({ msg: 'entry lost: trimmed before it was acknowledged', id });
        await redis.xack(key, group, id);
        continue;
      }
      const entry = parse(id, fields);
      try {
        await options.handle(entry);
      } catch (error) {
        // Left unacknowledged: claimed again after minIdleMs (by this consumer or another one).
        log({ msg: 'handling failed', id, error: error instanceof Error ? error.message : String(error) });
        continue;
      }
      await redis.xack(key, group, id);
    }
  }

  /** Takes over the entries other consumers left unacknowledged for minIdleMs, and handles them. */
  async function claimStale(): Promise<void> {
    let cursor = '0-0';
    do {
      const reply = (await redis.xautoclaim(key, group, me, minIdleMs, cursor, 'COUNT', count)) as unknown as [
        string,
        RawEntry[],
        string[]?,
      ];
      const [next, entries, deleted = []] = reply;
      // Redis 7 drops entries trimmed while pending from the group and names them here.
      for (const id of deleted) log({ msg: 'entry lost: trimmed before it was acknowledged', id });
      if (entries.length > 0) log({ msg: 'claimed pending entries', count: entries.length });
      await handleAll(entries);
      cursor = next;
    } while (cursor !== '0-0' && !stopping);
  }

  /** `>`: new entries (waiting up to blockMs); an id: this consumer's own pending entries after it. */
  async function read(id: string): Promise<RawEntry[]> {
    const reply =
      id === '>'
        ? await redis.xreadgroup('GROUP', group, me, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', key, id)
        : await redis.xreadgroup('GROUP', group, me, 'COUNT', count, 'STREAMS', key, id);
    return reply?.[0]?.[1] ?? [];
  }

  async function run(): Promise<void> {
    let lastClaim = Date.now();
    while (!stopping) {
      try {
        if (Date.now() - lastClaim >= minIdleMs) {
          lastClaim = Date.now();
          await claimStale();
        }
        await handleAll(await read('>'));
      } catch (error) {
        if (stopping) return;
        log({ msg: 'read failed, retrying', error: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  return {
    async start() {
      await ensureGroup();
      // Own entries first (read before a crash of this same consumer name), then the stale ones of others.
      // Reading pending entries after the last one seen: one that fails again is not read in a loop.
      for (let own = await read('0'); own.length > 0 && !stopping; own = await read(own[own.length - 1][0])) {
        await handleAll(own);
      }
      await claimStale();
      log({ msg: 'consuming', stream: key, group, consumer: me });
      loop = run();
    },
    async stop() {
      stopping = true;
      await loop;
      if (owned) await redis.quit();
    },
  };
}

function parse(id: string, fields: string[]): StreamUpdate {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i], fields[i + 1]);
  return {
    id,
    bot: map.get('bot') ?? '',
    updateId: Number(map.get('update_id')),
    kind: map.get('kind') ?? '',
    update: JSON.parse(map.get('update') ?? '{}') as Update,
  };
}

async function main(): Promise<void> {
  const env = process.env;
  if (!env.STREAM_KEY) {
    console.error(
      "Set STREAM_KEY to the destination's streamKey (POST /admin/bots/:id/destinations {kind: 'stream'}).",
    );
    process.exit(2);
  }
  const consumer = createStreamConsumer({
    redis: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    stream: env.STREAM_KEY,
    group: env.GROUP,
    consumer: env.CONSUMER,
    count: env.COUNT ? Number(env.COUNT) : undefined,
    minIdleMs: env.MIN_IDLE_MS ? Number(env.MIN_IDLE_MS) : undefined,
    handle: (entry) => {
      const text = entry.update.message?.text;
      console.log(JSON.stringify({ msg: 'update', bot: entry.bot, updateId: entry.updateId, kind: entry.kind, text }));
    },
  });
  await consumer.start();
  const stop = () => void consumer.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Run as a program (tsx), not when a test imports it.
if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
