// Resource benchmark: does the gateway give memory back, and does it cope with many bots? Run it through
// `npm run bench -- resources` (bench/run.sh prepares the database, the keys, the Redis prefix and the 10 bench
// bots, and cleans up afterwards). Two phases, chosen with BENCH_PHASES (default "memory,bots"):
//
// memory — "Processed updates and dedupe keys expire by age; after 200,000 processed updates Redis memory returns
//   to within 10% of its baseline." Fake Telegram, the API and BENCH_WORKERS worker processes, with short expiry
//   (DEDUPE_TTL_SECONDS=60, the gateway's minimum, and FAILED_JOB_RETENTION_SECONDS=10, the dead letters'
//   retention, unless set). In the mailbox pipeline (src/updates/mailbox-scripts.ts) a processed update leaves
//   nothing behind but its dedupe key: its mailbox entry is removed once it is done, and the mailbox key with its
//   last entry. A warm-up of BENCH_MEMORY_WARMUP updates (the Lua scripts loaded, the workers' own keys and the
//   counters created), a wait until the warm-up's dedupe keys expired, the baseline; then BENCH_UPDATES updates
//   through the webhook (autocannon, BENCH_CONNECTIONS keep-alive connections), a wait until the fake Telegram
//   received a reply for each, then the dedupe TTL (and the dead letters' retention plus the janitor's interval),
//   then polling (up to BENCH_SETTLE_TIMEOUT seconds) until memory is back within 10%. Two figures throughout:
//   Redis' `used_memory` (the whole server: other programs using the same Redis move it too), and the memory of the
//   run's own keys (`MEMORY USAGE` of every key under the prefix, found with SCAN; sampled for the big kinds while
//   there are many keys), with the number of keys by kind (mailboxes, dedupe keys, dead letters, ready lists,
//   retry/flood wait, worker state, counters, sessions: bench/lib.mjs keyKind). Last, a probe of the dedupe window:
//   BENCH_DEDUPE_PROBE fresh updates, a wait until every one was processed (replied to, nothing pending, so only its
//   dedupe key is left), then the same updates again: each must be answered as a duplicate and none replied to
//   again. There is no events stream to fill before the baseline or to check at the end: the mailbox pipeline
//   writes none (nothing in the gateway reads one), so every key that grows with traffic is one of the three above.
//
// bots — "With 100,000 bots registered, ingress throughput stays within 10% of the 10-bot figure and the API
//   process's memory stays bounded by the cache size you configure." Registers BENCH_MANY_BOTS bots at once
//   (`setup.mjs register-bulk`), then starts API processes alone (no worker: the webhook's cost without the
//   worker competing for the two cores; the mailboxes only grow, and every key of the prefix is deleted after each
//   measurement):
//     few      the 10 bench bots,                 BOT_CACHE_SIZE = BENCH_BIG_CACHE (default many × 1.1)
//     many     all BENCH_MANY_BOTS bots,          BOT_CACHE_SIZE = BENCH_BIG_CACHE
//     many-ttl the same with BOT_CACHE_TTL_MS = BENCH_LONG_TTL_MS (default 0: left out; the check interval no
//              longer costs a query per entry)
//     small    all BENCH_MANY_BOTS bots,          BOT_CACHE_SIZE = BENCH_SMALL_CACHE (10000)
//   Every API has the same database (all bots registered) and settings but the cache. Before measuring, one pass
//   over all of its bots loads them into its cache (requests with a wrong secret: each costs a lookup and is
//   answered 401 without touching a mailbox; not measured). Then BENCH_ROUNDS rounds, each measuring every target
//   in turn (BENCH_WARMUP s of load discarded, BENCH_DURATION s measured, requests rotating over the target's
//   bots), so that a slow spell of the shared machine hits all targets alike. Reported per target: req/s and p99
//   (mean over the rounds, and each round), the API's RSS at start, after the cache pass and at its peak.
//
// Checks (exit code 1 if any counted one fails): memory — every update 2xx, accepted once and answered once (counts
//   from the API's metrics and the fake Telegram), used_memory and the prefix's own memory back to ≤ 110% of the
//   baseline (used_memory is not counted when other programs' keys in the same Redis changed meanwhile), nothing
//   pending and no mailbox, dedupe key, dead letter, ready list or retry entry left (only the workers' own keys and
//   the counters), the dedupe probe; bots — every bot found by the cache pass, every measured request 2xx, `many`
//   within 10% of `few` (acceptance item; `many-ttl` is printed for information only), and RSS with the small
//   cache at most 90% of RSS with the big one (after the cache pass and at the peak).
//
// Environment (set by run.sh): BENCH_BOTS_FILE, BENCH_DIST, BENCH_RUN_DIR, BENCH_RESULTS_DIR and the gateway's
// variables; optionally the BENCH_* settings above and BENCH_CONNECTIONS (50), BENCH_CHATS (1000), BENCH_WAIT_IDLE
// (20), BENCH_DRAIN_TIMEOUT (900), BENCH_SETTLE_TIMEOUT (180), BENCH_DEDUPE_PROBE (1000), BENCH_MEMORY_WARMUP
// (5000), BENCH_WORKERS (1), BENCH_DURATION (10), BENCH_WARMUP (2),
// BENCH_ROUNDS (2). Shared helpers: bench/lib.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import {
  baseEnv,
  cpuWindow,
  dist,
  fmt,
  freePort,
  gatewayEnv,
  getJson,
  getText,
  here,
  keyKind,
  load,
  loadBots,
  mb,
  metricLabels,
  metricSum,
  positiveInt,
  procStats,
  redisMemory,
  redisPid,
  resultsDir,
  round,
  runBench,
  runDir,
  runInfo,
  startNode,
  stopChild,
  stopChildrenOnSignals,
  table,
  updateBody,
  updateRequests,
  waitForHttp,
  waitForIdle,
  waitForNoPending,
} from './lib.mjs';

const TAG = 'resources';
const env = process.env;
const phases = (env.BENCH_PHASES ?? 'memory,bots')
  .split(',')
  .map((p) => p.trim())
  .filter(Boolean);
for (const phase of phases) {
  if (phase !== 'memory' && phase !== 'bots') throw new Error(`BENCH_PHASES: unknown phase "${phase}"`);
}
const manyBots = positiveInt('BENCH_MANY_BOTS', 100_000);
const opts = {
  phases,
  connections: positiveInt('BENCH_CONNECTIONS', 50),
  chats: positiveInt('BENCH_CHATS', 1000),
  waitIdle: positiveInt('BENCH_WAIT_IDLE', 20, 0),
  // memory
  updates: positiveInt('BENCH_UPDATES', 200_000),
  warmupUpdates: positiveInt('BENCH_MEMORY_WARMUP', 5_000),
  workers: positiveInt('BENCH_WORKERS', 1),
  drainTimeout: positiveInt('BENCH_DRAIN_TIMEOUT', 900, 0),
  settleTimeout: positiveInt('BENCH_SETTLE_TIMEOUT', 180, 0),
  dedupeProbe: positiveInt('BENCH_DEDUPE_PROBE', 1_000, 0),
  failedRetention: positiveInt('FAILED_JOB_RETENTION_SECONDS', 10, 0),
  dedupeTtl: positiveInt('DEDUPE_TTL_SECONDS', 60, 60),
  // bots
  manyBots,
  bigCache: positiveInt('BENCH_BIG_CACHE', Math.ceil(manyBots * 1.1)),
  smallCache: positiveInt('BENCH_SMALL_CACHE', 10_000),
  longTtlMs: positiveInt('BENCH_LONG_TTL_MS', 0, 0),
  duration: positiveInt('BENCH_DURATION', 10),
  warmup: positiveInt('BENCH_WARMUP', 2, 0),
  rounds: positiveInt('BENCH_ROUNDS', 2),
};
/** "Within 10%" of the acceptance items. */
const TOLERANCE = 0.1;
/**
 * The run's own keys at the baseline are only the workers' state and a few counters, a few hundred bytes: 10% of
 * that is less than one small key that comes and goes with the workers' timing (the wake-up list `sig`, a `stall`
 * entry). The prefix check allows this much above the baseline when it is more than 10%.
 */
const SLACK = 4096;
const prefix = env.REDIS_PREFIX ?? 'tgw';
const bots = loadBots();

stopChildrenOnSignals(TAG);

const log = (text) => console.log(`${TAG}: ${text}`);
const checks = [];
/** `counted: false` prints the check but leaves the exit code alone (said so in the output). */
function check(name, ok, detail, { counted = true } = {}) {
  checks.push({ name, ok, detail, counted });
}

function newRedis() {
  const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  return redis;
}

// ---------------------------------------------------------------------------------------------------------------
// Redis: the run's own keys, by kind, and their memory

async function scanPrefix(redis) {
  const keys = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of batch) keys.push(key);
  } while (cursor !== '0');
  return keys;
}

/**
 * Keys under the prefix by kind, and their memory (`MEMORY USAGE`). Kinds with more than `sampleMax` keys are
 * sampled (every n-th key) and extrapolated; the others are summed key by key. Keys that vanish between SCAN and
 * MEMORY USAGE (expired, removed) are left out.
 */
async function prefixSnapshot(redis, { sampleMax = Infinity } = {}) {
  const started = Date.now();
  const keys = await scanPrefix(redis);
  const byKind = new Map();
  for (const key of keys) {
    const kind = keyKind(prefix, key);
    if (!byKind.has(kind)) byKind.set(kind, []);
    byKind.get(kind).push(key);
  }
  const kinds = {};
  let bytes = 0;
  let sampled = false;
  for (const [kind, list] of byKind) {
    const stride = list.length > sampleMax ? Math.ceil(list.length / sampleMax) : 1;
    if (stride > 1) sampled = true;
    let measured = 0;
    let found = 0;
    for (let i = 0; i < list.length; i += stride * 1000) {
      const pipeline = redis.pipeline();
      for (let j = i; j < Math.min(list.length, i + stride * 1000); j += stride) pipeline.memory('USAGE', list[j]);
      for (const [error, usage] of await pipeline.exec()) {
        if (!error && usage !== null) {
          measured += Number(usage);
          found++;
        }
      }
    }
    const estimate = found === 0 ? 0 : (measured / found) * list.length;
    kinds[kind] = { keys: list.length, bytes: Math.round(estimate) };
    bytes += estimate;
  }
  return { keys: keys.length, bytes: Math.round(bytes), sampled, kinds, ms: Date.now() - started };
}

async function dbsize(redis) {
  return Number(await redis.dbsize());
}

/** Both figures at once: the server's used_memory and the prefix's own keys. */
async function memoryReading(redis, snapshotOptions) {
  const usedMemory = await redisMemory(redis);
  const snapshot = await prefixSnapshot(redis, snapshotOptions);
  const total = await dbsize(redis);
  return { at: new Date().toISOString(), usedMemory, prefix: snapshot, foreignKeys: total - snapshot.keys };
}

/**
 * Deletes every key under the prefix: the mailbox pipeline keeps no key a running process needs to find again
 * (its counters start over from nothing).
 */
async function deletePrefixKeys(redis) {
  const keys = await scanPrefix(redis);
  for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
  return keys.length;
}

function kindsLine(kinds) {
  const entries = Object.entries(kinds).sort((a, b) => b[1].bytes - a[1].bytes);
  return entries.map(([kind, v]) => `${kind} ${fmt(v.keys)} (${kb(v.bytes)})`).join(', ') || 'none';
}

function kb(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return 'n/a';
  if (Math.abs(bytes) < 10 * 1024) return `${fmt(bytes / 1024, 1)} KB`;
  return Math.abs(bytes) >= 10 * 1024 * 1024 ? mb(bytes) : `${fmt(bytes / 1024)} KB`;
}

// ---------------------------------------------------------------------------------------------------------------
// Load with a fixed number of requests

/**
 * Sends exactly `amount` requests (autocannon's `amount`) built by `build(n)` → { path, headers, body } for
 * n = 0, 1, ...; returns autocannon's counts.
 */
async function sendAmount(url, amount, build, { connections = opts.connections } = {}) {
  let n = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: Math.min(connections, amount),
    amount,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => Object.assign(request, build(n++)),
      },
    ],
  });
  return {
    amount,
    built: n,
    seconds: round(result.duration, 1),
    requestsAverage: result.requests.average,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    status2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** A request for update `updateId` of the given bot, in one of BENCH_CHATS chats. */
function updateRequest(bot, updateId) {
  return {
    path: `/webhook/${bot.token}`,
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': bot.secret },
    body: updateBody(updateId, 100_000 + (updateId % opts.chats)),
  };
}

async function apiOutcomes(apiUrl) {
  // Requests still in flight finish on the server after autocannon returns: read once the counters stop moving.
  let text = await getText(`${apiUrl}/metrics`);
  for (let i = 0; i < 20; i++) {
    await sleep(150);
    const again = await getText(`${apiUrl}/metrics`);
    const settled =
      metricSum(again, 'tg_gateway_webhook_requests_total') === metricSum(text, 'tg_gateway_webhook_requests_total');
    text = again;
    if (settled) break;
  }
  return metricLabels(text, 'tg_gateway_webhook_requests_total', 'outcome');
}

async function replies(telegramUrl) {
  return (await getJson(`${telegramUrl}/stats`)).methods.sendMessage ?? 0;
}

async function waitForReplies(telegramUrl, target, timeoutSeconds, workers, onTick) {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let count = await replies(telegramUrl);
  while (count < target && Date.now() < deadline && workers.every((w) => !w.exited)) {
    await sleep(500);
    count = await replies(telegramUrl);
    await onTick?.();
  }
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 1: Redis memory

/**
 * Fake Telegram, the API and BENCH_WORKERS workers (each with a WORKER_PORT: a worker has no HTTP listener without
 * one, and the phase reads their /metrics) with the phase's short expiry; resolves once all are ready.
 */
async function startGateway(started) {
  const telegram = startNode('memory-fake-telegram', [join(here, 'fake-telegram.mjs')], baseEnv, { firstLine: true });
  started.push(telegram.entry);
  const telegramUrl = JSON.parse(await telegram.line).url;
  const apiPort = await freePort();
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const processEnv = gatewayEnv(apiPort, {
    TELEGRAM_API_ROOT: telegramUrl,
    FAILED_JOB_RETENTION_SECONDS: String(opts.failedRetention),
    DEDUPE_TTL_SECONDS: String(opts.dedupeTtl),
  });
  const api = startNode('memory-api', [join(dist, 'main-api.js')], processEnv);
  started.push(api.entry);
  const ready = [waitForHttp(`${apiUrl}/health/ready`, api.entry)];
  const workers = [];
  for (let i = 0; i < opts.workers; i++) {
    const port = await freePort();
    const worker = startNode(`memory-worker-${i + 1}`, [join(dist, 'main-worker.js')], {
      ...processEnv,
      WORKER_PORT: String(port),
    });
    started.push(worker.entry);
    workers.push({ entry: worker.entry, url: `http://127.0.0.1:${port}` });
    ready.push(waitForHttp(`http://127.0.0.1:${port}/health/ready`, worker.entry));
  }
  await Promise.all(ready);
  return {
    telegramUrl,
    apiUrl,
    api: api.entry,
    telegram: telegram.entry,
    workers,
    workerEntries: workers.map((w) => w.entry),
  };
}

/**
 * Samples Redis while the load runs: used_memory every second, the prefix (sampled MEMORY USAGE) every ~10 s.
 * `stop()` → { peakUsed, peakPrefix, timeline }.
 */
function startSampler(redis, baseline) {
  const timeline = [];
  let peakUsed = { usedMemory: baseline.usedMemory, at: baseline.at };
  let peakPrefix = baseline.prefix;
  let running = true;
  let lastSnapshot = 0;
  const sample = async () => {
    const usedMemory = await redisMemory(redis);
    const point = { t: Date.now(), usedMemory };
    if (usedMemory > peakUsed.usedMemory) peakUsed = { usedMemory, at: new Date().toISOString() };
    if (Date.now() - lastSnapshot >= 10_000) {
      lastSnapshot = Date.now();
      const snapshot = await prefixSnapshot(redis, { sampleMax: 2_000 });
      Object.assign(point, { prefixBytes: snapshot.bytes, prefixKeys: snapshot.keys });
      if (snapshot.bytes > peakPrefix.bytes) peakPrefix = { ...snapshot, at: new Date().toISOString() };
    }
    timeline.push(point);
  };
  const loop = (async () => {
    while (running) {
      const next = Date.now() + 1_000;
      await sample().catch(() => undefined);
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { peakUsed, peakPrefix, timeline };
    },
  };
}

function outcomeDelta(before, after) {
  const out = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const n = (after[key] ?? 0) - (before[key] ?? 0);
    if (n !== 0) out[key] = n;
  }
  return out;
}

/** Kinds of keys that grow with traffic and must all be gone once the updates were processed and expired. */
const TRANSIENT_KINDS = new Set(['mailbox', 'dedupe key', 'dead letter', 'ready', 'retry/flood wait']);
/** Kinds that stay while the gateway runs: the workers' heartbeats and leases, a few counters. */
const RESIDENT_KINDS = new Set(['worker state', 'counter']);

async function memoryPhase() {
  log(
    `memory: ${fmt(opts.updates)} updates, ${opts.workers} worker(s), dedupe TTL ${opts.dedupeTtl} s, dead ` +
      `letter retention ${opts.failedRetention} s, ${opts.connections} connections`,
  );
  const redis = newRedis();
  const started = [];
  const out = {
    settings: {
      FAILED_JOB_RETENTION_SECONDS: opts.failedRetention,
      DEDUPE_TTL_SECONDS: opts.dedupeTtl,
      workers: opts.workers,
    },
  };
  try {
    const gateway = await startGateway(started);
    const { telegramUrl, apiUrl, api, workers, workerEntries } = gateway;
    // QueueJanitor's interval (src/updates/queue-janitor.ts): half the dead letters' retention, 1 s to 1 min.
    const janitorMs = Math.min(60_000, Math.max(1_000, (opts.failedRetention * 1000) / 2));
    // Time for everything of a burst to go: its dedupe keys (TTL from the moment each update was accepted) and any
    // dead letter (retention after it failed, then the janitor's next pass). Mailboxes go as they are emptied.
    const expiryWait = async (lastAccepted, lastFinished, label) => {
      const until = Math.max(
        lastAccepted + opts.dedupeTtl * 1000,
        lastFinished + opts.failedRetention * 1000 + janitorMs,
      );
      log(
        `memory: ${label}: waiting ${Math.max(0, (until - Date.now()) / 1000).toFixed(0)} s for the dedupe TTL ` +
          "and the dead letters' retention",
      );
      await sleep(Math.max(0, until - Date.now()));
    };
    let nextUpdateId = 1;
    const post = (amount) => {
      const first = nextUpdateId;
      nextUpdateId += amount;
      return sendAmount(apiUrl, amount, (n) => updateRequest(bots[(first + n) % bots.length], first + n));
    };

    // Warm-up: the Lua scripts are loaded, the workers' keys and the counters exist; then all of the warm-up's
    // own keys expire. One batch is enough: the mailbox pipeline keeps no capped log (no events stream) that would
    // have to be full before the baseline.
    log(`memory: warm-up: ${fmt(opts.warmupUpdates)} updates`);
    const warmRepliesBefore = await replies(telegramUrl);
    const warm = await post(opts.warmupUpdates);
    const warmAccepted = Date.now();
    const warmGot = await waitForReplies(
      telegramUrl,
      warmRepliesBefore + opts.warmupUpdates,
      opts.drainTimeout,
      workerEntries,
    );
    out.warmup = { ...warm, replies: warmGot - warmRepliesBefore };
    await expiryWait(warmAccepted, Date.now(), 'warm-up');
    // Then until no key of the warm-up is left (Redis expires keys actively, within seconds).
    const leftover = async () => {
      const { kinds } = await prefixSnapshot(redis, { sampleMax: 1 });
      return Object.entries(kinds)
        .filter(([kind]) => TRANSIENT_KINDS.has(kind))
        .reduce((sum, [, v]) => sum + v.keys, 0);
    };
    for (let i = 0; i < 60 && (await leftover()) > 0; i++) await sleep(1_000);
    await sleep(2_000);
    const baseline = await memoryReading(redis);
    out.baseline = baseline;
    out.apiRss = { start: procStats(api.child.pid)?.rssBytes };
    log(
      `memory: baseline: used_memory ${kb(baseline.usedMemory)}, prefix ${kb(baseline.prefix.bytes)} in ` +
        `${fmt(baseline.prefix.keys)} keys (${kindsLine(baseline.prefix.kinds)}); other keys in the db: ` +
        `${fmt(baseline.foreignKeys)}`,
    );

    // The load, with memory sampled meanwhile, then the wait for every reply.
    const outcomesBefore = await apiOutcomes(apiUrl);
    const repliesBefore = await replies(telegramUrl);
    await waitForIdle('memory load', { seconds: opts.waitIdle, tag: TAG });
    const sampler = startSampler(redis, baseline);
    let mainLoad;
    let drained;
    let loadEnded;
    try {
      log(`memory: posting ${fmt(opts.updates)} updates...`);
      // Every process of the run by name, so that `otherProcesses` is really someone else's.
      const window = cpuWindow({
        api: api.child.pid,
        fakeTelegram: gateway.telegram.child.pid,
        redis: await redisPid(redis),
        ...Object.fromEntries(workers.map((w, i) => [`worker${i + 1}`, w.entry.child.pid])),
      });
      mainLoad = await post(opts.updates);
      loadEnded = Date.now();
      mainLoad.cpuCores = window().cpuCores;
      const repliesAtLoadEnd = (await replies(telegramUrl)) - repliesBefore;
      log(
        `memory: load done in ${mainLoad.seconds} s (${fmt(mainLoad.requestsAverage)} req/s, p99 ` +
          `${mainLoad.latencyMs.p99} ms); ${fmt(repliesAtLoadEnd)} replies so far, waiting for the rest ` +
          `(up to ${opts.drainTimeout} s)...`,
      );
      const got = await waitForReplies(telegramUrl, repliesBefore + opts.updates, opts.drainTimeout, workerEntries);
      drained = {
        repliesAtLoadEnd,
        replies: got - repliesBefore,
        secondsAfterLoad: round((Date.now() - loadEnded) / 1000, 1),
        // A reply is counted a moment before its update leaves the mailbox.
        pendingAfterReplies: await waitForNoPending(redis, prefix),
      };
      log(`memory: ${fmt(drained.replies)} replies, ${drained.secondsAfterLoad} s after the load`);
    } finally {
      out.sampling = await sampler.stop();
    }
    const drainedAt = Date.now();
    const atDrain = await memoryReading(redis, { sampleMax: 5_000 });
    let { peakUsed, peakPrefix } = out.sampling;
    if (atDrain.prefix.bytes > peakPrefix.bytes) peakPrefix = { ...atDrain.prefix, at: atDrain.at };
    if (atDrain.usedMemory > peakUsed.usedMemory) peakUsed = { usedMemory: atDrain.usedMemory, at: atDrain.at };
    const outcomes = outcomeDelta(outcomesBefore, await apiOutcomes(apiUrl));
    const accepted = outcomes.accepted ?? 0;
    out.load = { ...mainLoad, accepted, outcomes, drained };
    out.peak = { usedMemory: peakUsed, prefix: peakPrefix };
    out.atDrain = atDrain;
    log(
      `memory: peak used_memory ${kb(peakUsed.usedMemory)}; peak prefix ${kb(peakPrefix.bytes)} in ` +
        `${fmt(peakPrefix.keys)} keys (${kindsLine(peakPrefix.kinds)}); once drained ${fmt(atDrain.prefix.keys)} ` +
        `keys (${kindsLine(atDrain.prefix.kinds)})`,
    );

    // Expiry, then polling until both figures are back within 10% (or the time is up).
    await expiryWait(loadEnded, drainedAt, 'after the load');
    const settleDeadline = Date.now() + opts.settleTimeout * 1000;
    const within = (reading) => ({
      used: reading.usedMemory <= baseline.usedMemory * (1 + TOLERANCE),
      prefix: reading.prefix.bytes <= Math.max(baseline.prefix.bytes * (1 + TOLERANCE), baseline.prefix.bytes + SLACK),
      // Other programs' keys came or went: used_memory is theirs as much as ours, do not wait for it.
      disturbed: reading.foreignKeys !== baseline.foreignKeys,
    });
    const settled = (reading) => {
      const w = within(reading);
      return w.prefix && (w.used || w.disturbed);
    };
    let final = await memoryReading(redis, { sampleMax: 5_000 });
    while (!settled(final) && Date.now() < settleDeadline) {
      log(
        `memory: used_memory ${kb(final.usedMemory)} (${ratioText(final.usedMemory, baseline.usedMemory)}), prefix ` +
          `${kb(final.prefix.bytes)} (${ratioText(final.prefix.bytes, baseline.prefix.bytes)}) in ` +
          `${fmt(final.prefix.keys)} keys; polling...`,
      );
      await sleep(5_000);
      final = await memoryReading(redis, { sampleMax: 5_000 });
    }
    final.secondsAfterDrain = round((Date.now() - drainedAt) / 1000, 1);
    final.pending = Number((await redis.get(`${prefix}:pending`)) ?? 0);
    out.final = final;
    out.apiRss.end = procStats(api.child.pid)?.rssBytes;
    out.workerRss = workers.map((w) => procStats(w.entry.child.pid));
    log(
      `memory: final (${final.secondsAfterDrain} s after the last reply): used_memory ${kb(final.usedMemory)}, ` +
        `prefix ${kb(final.prefix.bytes)} in ${fmt(final.prefix.keys)} keys (${kindsLine(final.prefix.kinds)})`,
    );
    const repliesFinal = (await replies(telegramUrl)) - repliesBefore;
    const workerMetrics = await Promise.all(workers.map((w) => getText(`${w.url}/metrics`)));
    const failed = workerMetrics.reduce((sum, t) => sum + metricSum(t, 'tg_gateway_updates_failed_total'), 0);
    out.replies = { atDrain: drained.replies, final: repliesFinal, workerFailedTotal: failed };

    check(
      'memory: every update answered 2xx',
      mainLoad.status2xx === opts.updates && mainLoad.non2xx === 0 && mainLoad.errors === 0,
      `${fmt(mainLoad.status2xx)} 2xx of ${fmt(opts.updates)}, ${mainLoad.non2xx} non-2xx ` +
        `${JSON.stringify(mainLoad.statusCodes)}, ${mainLoad.errors} errors`,
    );
    check(
      'memory: every update accepted once (API counter), no duplicate or rejection',
      accepted === opts.updates && Object.keys(outcomes).every((o) => o === 'accepted'),
      `${fmt(accepted)} accepted; outcomes ${JSON.stringify(outcomes)}`,
    );
    check(
      'memory: one reply per update, none late or repeated (fake Telegram sendMessage count)',
      drained.replies === opts.updates && repliesFinal === opts.updates && failed === 0,
      `${fmt(drained.replies)} replies when drained, ${fmt(repliesFinal)} at the end, for ${fmt(opts.updates)} ` +
        `updates; ${failed} failed in the workers`,
    );
    const disturbed = within(final).disturbed;
    check(
      'memory: Redis used_memory back to ≤ 110% of the baseline',
      within(final).used,
      `${kb(baseline.usedMemory)} → peak ${kb(peakUsed.usedMemory)} → ${kb(final.usedMemory)} ` +
        `(${ratioText(final.usedMemory, baseline.usedMemory)})` +
        (disturbed
          ? `; other programs' keys in this Redis went from ${fmt(baseline.foreignKeys)} to ` +
            `${fmt(final.foreignKeys)} meanwhile: this figure is theirs as much as ours, so it is not counted ` +
            '(the next check is)'
          : ''),
      { counted: !disturbed },
    );
    check(
      "memory: the run's own keys back to ≤ 110% of the baseline (MEMORY USAGE; or ≤ baseline + 4 KB)",
      within(final).prefix,
      `${kb(baseline.prefix.bytes)} → peak ${kb(peakPrefix.bytes)} → ${kb(final.prefix.bytes)} ` +
        `(${ratioText(final.prefix.bytes, baseline.prefix.bytes)}); keys ${fmt(baseline.prefix.keys)} → ` +
        `${fmt(peakPrefix.keys)} → ${fmt(final.prefix.keys)}`,
    );
    const leftKinds = Object.entries(final.prefix.kinds).filter(([kind]) => !RESIDENT_KINDS.has(kind));
    check(
      'memory: nothing pending, no mailbox, dedupe key, dead letter, ready list or retry entry left once the TTL ' +
        "passed (only the workers' own keys and the counters)",
      leftKinds.length === 0 && final.pending === 0,
      `pending ${final.pending}; ` +
        (leftKinds.length === 0 ? kindsLine(final.prefix.kinds) : `left: ${kindsLine(Object.fromEntries(leftKinds))}`),
    );

    if (opts.dedupeProbe > 0) out.dedupeProbe = await dedupeProbe({ ...gateway, redis });
    return out;
  } finally {
    await Promise.all(started.map((entry) => stopChild(entry)));
    const deleted = await deletePrefixKeys(redis).catch(() => 0);
    if (deleted > 0) log(`memory: deleted ${fmt(deleted)} leftover key(s) of the phase`);
    redis.disconnect();
  }
}

/** The dedupe keys (`dd:<bot>:<update_id>`) of update ids `first` to `first + count - 1`. */
async function dedupeKeysOf(redis, first, count) {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:dd:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const id = Number(key.slice(key.lastIndexOf(':') + 1));
      if (id >= first && id < first + count) n++;
    }
  } while (cursor !== '0');
  return n;
}

/**
 * The dedupe window must not end with processing: fresh updates, a wait until every one of them was processed
 * (replied to, nothing pending: their mailboxes are gone and only their dedupe keys are left), then the same
 * updates again, well within DEDUPE_TTL_SECONDS. Each must be answered as a duplicate, and none replied to again.
 */
async function dedupeProbe({ apiUrl, telegramUrl, redis, workerEntries }) {
  const k = opts.dedupeProbe;
  log(`memory: dedupe probe: ${fmt(k)} updates, and the same again once they were processed`);
  const first = 900_000_000;
  const build = (n) => updateRequest(bots[(first + n) % bots.length], first + n);
  const outcomesBefore = await apiOutcomes(apiUrl);
  const repliesBefore = await replies(telegramUrl);
  const firstPass = await sendAmount(apiUrl, k, build);
  const sentAt = Date.now();
  await waitForReplies(telegramUrl, repliesBefore + k, 60, workerEntries);
  const pending = await waitForNoPending(redis, prefix, 10_000);
  const repliesFirst = (await replies(telegramUrl)) - repliesBefore;
  const processed = await prefixSnapshot(redis, { sampleMax: 1 });
  const probeDedupeKeys = await dedupeKeysOf(redis, first, k);
  const secondPass = await sendAmount(apiUrl, k, build);
  const secondAt = Date.now();
  // An update accepted again by mistake would be replied to within a second or two.
  await sleep(3_000);
  const outcomesAfter = await apiOutcomes(apiUrl);
  const delta = (o) => (outcomesAfter[o] ?? 0) - (outcomesBefore[o] ?? 0);
  const repliesTotal = (await replies(telegramUrl)) - repliesBefore;
  const mailboxes = processed.kinds.mailbox?.keys ?? 0;
  const result = {
    updates: k,
    secondsBetween: round((secondAt - sentAt) / 1000, 1),
    firstPass2xx: firstPass.status2xx,
    secondPass2xx: secondPass.status2xx,
    accepted: delta('accepted'),
    duplicate: delta('duplicate'),
    repliesFirst,
    repliesTotal,
    pendingBeforeSecondPass: pending,
    probeDedupeKeysBeforeSecondPass: probeDedupeKeys,
    keysBeforeSecondPass: processed.kinds,
  };
  log(
    `memory: dedupe probe: once processed ${fmt(mailboxes)} mailbox(es), ${fmt(pending)} pending and ` +
      `${fmt(probeDedupeKeys)} dedupe key(s) of the probe; second pass: ${fmt(result.duplicate)} duplicate(s), ` +
      `${fmt(result.accepted - k)} accepted again`,
  );
  check(
    'memory: processed updates are still duplicates (same updates again once processed, within DEDUPE_TTL_SECONDS)',
    firstPass.status2xx === k &&
      secondPass.status2xx === k &&
      pending === 0 &&
      mailboxes === 0 &&
      probeDedupeKeys === k &&
      result.accepted === k &&
      result.duplicate === k &&
      repliesFirst === k &&
      repliesTotal === k,
    `${fmt(k)} updates, again ${result.secondsBetween} s later (dedupe TTL ${opts.dedupeTtl} s): once processed ` +
      `${fmt(repliesFirst)} replies, ${fmt(pending)} pending, ${fmt(mailboxes)} mailboxes, ${fmt(probeDedupeKeys)} ` +
      `dedupe keys of the probe; second pass ${fmt(secondPass.status2xx)} 2xx, ${fmt(result.duplicate)} duplicate, ` +
      `${fmt(result.accepted - k)} accepted again; ${fmt(repliesTotal)} replies in all for ${fmt(k)} updates`,
  );
  return result;
}

function ratioText(value, base) {
  if (!base) return 'n/a';
  return `${((value / base) * 100).toFixed(1)}% of baseline`;
}

// ---------------------------------------------------------------------------------------------------------------
// Phase 2: many bots

function runSetup(args) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(here, 'setup.mjs'), ...args], {
      env: baseEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolveRun(output.trim()) : reject(new Error(`setup.mjs ${args[0]} failed (${code}): ${output}`)),
    );
  });
}

/** A cache pass: every bot once, with a wrong secret and no body, so each costs a lookup and is answered 401. */
function cachePass(apiUrl, list) {
  return sendAmount(apiUrl, list.length, (n) => ({
    path: `/webhook/${list[n % list.length].token}`,
    headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'not-the-secret' },
    body: undefined,
  }));
}

async function botsPhase() {
  const redis = newRedis();
  const started = [];
  const bulkFile = join(runDir, 'bots-bulk.json');
  const out = {};
  try {
    log(`bots: registering ${fmt(opts.manyBots)} bots (setup.mjs register-bulk)...`);
    const registerStarted = Date.now();
    let bulk;
    try {
      const message = await runSetup(['register-bulk', String(opts.manyBots), bulkFile]);
      bulk = JSON.parse(readFileSync(bulkFile, 'utf8'));
      log(`bots: ${message}`);
    } finally {
      // The tokens stay in this process's memory only; the rows are deleted by run.sh's clean-up (by name).
      rmSync(bulkFile, { force: true });
    }
    out.registerSeconds = round((Date.now() - registerStarted) / 1000, 1);
    const many = [...bots, ...bulk];
    out.registeredBots = many.length;

    const targets = [
      { name: 'few', label: `${bots.length} bots, cache ${fmt(opts.bigCache)}`, bots, cache: opts.bigCache },
      {
        name: 'many',
        label: `${fmt(many.length)} bots, cache ${fmt(opts.bigCache)}`,
        bots: many,
        cache: opts.bigCache,
      },
    ];
    if (opts.longTtlMs > 0) {
      targets.push({
        name: 'many-ttl',
        label: `${fmt(many.length)} bots, cache ${fmt(opts.bigCache)}, TTL ${fmt(opts.longTtlMs / 1000)} s`,
        bots: many,
        cache: opts.bigCache,
        ttlMs: opts.longTtlMs,
      });
    }
    targets.push({
      name: 'small',
      label: `${fmt(many.length)} bots, cache ${fmt(opts.smallCache)}`,
      bots: many,
      cache: opts.smallCache,
    });

    const redisServer = await redisPid(redis);
    // One API per target, started and filled one after the other, then left running (idle) for the rounds.
    for (const target of targets) {
      const port = await freePort();
      target.url = `http://127.0.0.1:${port}`;
      const apiEnv = gatewayEnv(port, {
        BOT_CACHE_SIZE: String(target.cache),
        ...(target.ttlMs ? { BOT_CACHE_TTL_MS: String(target.ttlMs) } : {}),
      });
      target.settings = {
        BOT_CACHE_SIZE: target.cache,
        BOT_CACHE_TTL_MS: target.ttlMs ?? env.BOT_CACHE_TTL_MS ?? 'default',
      };
      const api = startNode(`bots-api-${target.name}`, [join(dist, 'main-api.js')], apiEnv);
      started.push(api.entry);
      target.entry = api.entry;
      await waitForHttp(`${target.url}/health/ready`, api.entry);
      await sleep(1_000);
      target.rss = { start: procStats(api.entry.child.pid)?.rssBytes };
      log(`bots: ${target.name} (${target.label}): cache pass over ${fmt(target.bots.length)} bots...`);
      target.cachePass = await cachePass(target.url, target.bots);
      await sleep(2_000);
      target.rss.afterCachePass = procStats(api.entry.child.pid)?.rssBytes;
      log(
        `bots: ${target.name}: ${target.cachePass.seconds} s, ${JSON.stringify(target.cachePass.statusCodes)}; RSS ` +
          `${mb(target.rss.start)} → ${mb(target.rss.afterCachePass)}`,
      );
      target.runs = [];
    }

    for (let round_ = 1; round_ <= opts.rounds; round_++) {
      for (const target of targets) {
        const label = `round ${round_}/${opts.rounds}, ${target.name}`;
        await waitForIdle(label, { seconds: opts.waitIdle, tag: TAG });
        const setupRequest = updateRequests(target.bots, opts.chats);
        if (opts.warmup > 0) await load(target.url, opts.warmup, { connections: opts.connections, setupRequest });
        const window = cpuWindow({ api: target.entry.child.pid, redis: redisServer });
        const run = await load(target.url, opts.duration, { connections: opts.connections, setupRequest });
        const { cpuCores } = window();
        const rss = procStats(target.entry.child.pid);
        target.runs.push({ ...run, cpuCores, rssBytes: rss?.rssBytes });
        log(
          `bots: ${label}: ${fmt(run.requestsAverage)} req/s, p99 ${run.latencyMs.p99} ms, API ` +
            `${cpuCores.api?.toFixed(2)} cores, Redis ${cpuCores.redis?.toFixed(2) ?? 'n/a'}, other processes ` +
            `${cpuCores.otherProcesses?.toFixed(2)} cores, RSS ` +
            `${mb(rss?.rssBytes)}`,
        );
        // Nothing consumes the mailboxes: delete them (and the rest of the prefix), so that every measurement starts
        // alike.
        await deletePrefixKeys(redis);
      }
    }
    for (const target of targets) {
      const stats = procStats(target.entry.child.pid);
      target.rss.end = stats?.rssBytes;
      target.rss.peak = stats?.peakRssBytes;
    }
    out.targets = targets.map((t) => ({
      name: t.name,
      label: t.label,
      bots: t.bots.length,
      settings: t.settings,
      rss: t.rss,
      cachePass: t.cachePass,
      runs: t.runs,
      requestsAverage: round(mean(t.runs.map((r) => r.requestsAverage))),
      p99Ms: round(mean(t.runs.map((r) => r.latencyMs.p99)), 1),
      non2xx: t.runs.reduce((s, r) => s + r.non2xx + r.errors + r.timeouts, 0),
    }));

    const by = Object.fromEntries(out.targets.map((t) => [t.name, t]));
    // What one cached bot costs: the big cache holds every bot, the small one BENCH_SMALL_CACHE of them.
    const cachedDifference = Math.min(opts.bigCache, by.many.bots) - Math.min(opts.smallCache, by.small.bots);
    out.rssPerCachedBotBytes =
      cachedDifference > 0
        ? round((by.many.rss.afterCachePass - by.small.rss.afterCachePass) / cachedDifference)
        : null;
    for (const t of out.targets) {
      check(
        `bots: ${t.name}: cache pass found every bot (all 401 for the wrong secret)`,
        (t.cachePass.statusCodes['401'] ?? 0) === t.bots,
        JSON.stringify(t.cachePass.statusCodes),
      );
      check(`bots: ${t.name}: every measured request answered 2xx`, t.non2xx === 0, `${t.non2xx} non-2xx or errors`);
    }
    const ratio = by.many.requestsAverage / by.few.requestsAverage;
    out.ratioManyToFew = round(ratio, 3);
    check(
      `bots: ${fmt(by.many.bots)} bots (cache ${fmt(opts.bigCache)}) within 10% of ${by.few.bots} bots' req/s`,
      ratio >= 1 - TOLERANCE,
      `${fmt(by.many.requestsAverage)} vs ${fmt(by.few.requestsAverage)} req/s (${(ratio * 100).toFixed(1)}%), ` +
        `mean of ${opts.rounds} alternating round(s)`,
    );
    if (by['many-ttl']) {
      const r = by['many-ttl'].requestsAverage / by.few.requestsAverage;
      out.ratioManyLongTtlToFew = round(r, 3);
      check(
        `bots: ${fmt(by.many.bots)} bots, cache TTL ${fmt(opts.longTtlMs / 1000)} s, within 10% of ${by.few.bots} ` +
          "bots' req/s (information: not the default TTL)",
        r >= 1 - TOLERANCE,
        `${fmt(by['many-ttl'].requestsAverage)} vs ${fmt(by.few.requestsAverage)} req/s (${(r * 100).toFixed(1)}%)`,
        { counted: false },
      );
    }
    // Bounded by the cache: having seen every bot, the API with the small cache must stay clearly (by a tenth at
    // least) below the one that keeps them all, after the cache pass and at its peak.
    const below = (key) => by.small.rss[key] <= by.many.rss[key] * 0.9;
    check(
      `bots: API RSS bounded by the cache size (cache ${fmt(opts.smallCache)} ≤ 90% of cache ${fmt(opts.bigCache)})`,
      below('afterCachePass') && below('peak'),
      `after the cache pass ${mb(by.small.rss.afterCachePass)} vs ${mb(by.many.rss.afterCachePass)}, peak ` +
        `${mb(by.small.rss.peak)} vs ${mb(by.many.rss.peak)} (${by.few.bots} bots: ${mb(by.few.rss.afterCachePass)}, ` +
        `peak ${mb(by.few.rss.peak)})`,
    );
    return out;
  } finally {
    await Promise.all(started.map((entry) => stopChild(entry)));
    await deletePrefixKeys(redis).catch(() => 0);
    redis.disconnect();
    if (existsSync(bulkFile)) rmSync(bulkFile, { force: true });
  }
}

function mean(values) {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
}

// ---------------------------------------------------------------------------------------------------------------
// Summary

function printMemory(m) {
  const rows = [['', 'used_memory', 'run prefix (MEMORY USAGE)', 'prefix keys']];
  const row = (name, used, p) => [name, kb(used), kb(p.bytes) + (p.sampled ? ' (sampled)' : ''), fmt(p.keys)];
  rows.push(row('baseline', m.baseline.usedMemory, m.baseline.prefix));
  rows.push(row('peak', m.peak.usedMemory.usedMemory, m.peak.prefix));
  rows.push(row('last reply', m.atDrain.usedMemory, m.atDrain.prefix));
  rows.push(row(`final (+${m.final.secondsAfterDrain} s)`, m.final.usedMemory, m.final.prefix));
  rows.push([
    'final / baseline',
    (m.final.usedMemory / m.baseline.usedMemory).toFixed(3),
    (m.final.prefix.bytes / m.baseline.prefix.bytes).toFixed(3),
    '',
  ]);
  console.log(
    `\nRedis memory, ${fmt(opts.updates)} updates (load ${fmt(m.load.requestsAverage)} req/s, p99 ` +
      `${m.load.latencyMs.p99} ms; last reply ${m.load.drained.secondsAfterLoad} s after the load):`,
  );
  console.log(table(rows));
  console.log(
    `API RSS ${mb(m.apiRss.start)} at the baseline → ${mb(m.apiRss.end)} at the end; worker RSS at the end ` +
      `${m.workerRss.map((w) => `${mb(w?.rssBytes)} (peak ${mb(w?.peakRssBytes)})`).join(', ')}`,
  );
  const cores = Object.entries(m.load.cpuCores ?? {}).map(([who, c]) => `${who} ${c === null ? 'n/a' : c.toFixed(2)}`);
  console.log(`CPU during the load, in cores: ${cores.join(', ')}`);
  if ((m.load.cpuCores?.otherProcesses ?? 0) > 0.2) {
    console.log('  WARNING: other processes were busy during the load: the load took longer than on a quiet machine');
  }
  console.log('keys by kind (count, MEMORY USAGE):');
  for (const [name, p] of [
    ['baseline', m.baseline.prefix],
    ['peak', m.peak.prefix],
    ['final', m.final.prefix],
  ]) {
    console.log(`  ${name}: ${kindsLine(p.kinds)}`);
  }
}

function printBots(b) {
  console.log(
    `\nIngress with many bots (API alone, ${opts.connections} connections, ${opts.warmup} s + ${opts.duration} s ` +
      `× ${opts.rounds} rounds; ${fmt(b.registeredBots)} bots registered in ${b.registerSeconds} s):`,
  );
  const rows = [
    ['target', 'req/s', 'vs few', 'p99', 'per round', 'RSS start', 'after cache pass', 'peak', 'cache pass'],
  ];
  const few = b.targets.find((t) => t.name === 'few');
  for (const t of b.targets) {
    rows.push([
      `${t.name}: ${t.label}`,
      fmt(t.requestsAverage),
      (t.requestsAverage / few.requestsAverage).toFixed(2),
      `${t.p99Ms} ms`,
      t.runs.map((r) => fmt(r.requestsAverage)).join(' / '),
      mb(t.rss.start),
      mb(t.rss.afterCachePass),
      mb(t.rss.peak),
      `${t.cachePass.seconds} s`,
    ]);
  }
  console.log(table(rows));
  if (b.rssPerCachedBotBytes !== null) {
    console.log(
      `RSS per cached bot: ~${fmt(b.rssPerCachedBotBytes / 1024, 1)} KB (difference of the big and the small cache ` +
        'after the cache pass, divided by the difference in cached bots)',
    );
  }
  for (const t of b.targets) {
    const busy = t.runs.map((r) => r.cpuCores.otherProcesses ?? 0);
    if (Math.max(...busy) > 0.2) {
      console.log(
        `  WARNING: other processes used up to ${Math.max(...busy).toFixed(2)} cores while "${t.name}" was measured`,
      );
    }
  }
}

async function main() {
  const startedAt = new Date();
  log(
    `phases ${opts.phases.join(', ')}; ${cpus().length} CPU(s), node ${process.version}` +
      (env.BENCH_SOURCE ? `; code under test: ${env.BENCH_SOURCE}` : ''),
  );
  const results = {
    benchmark: 'resources',
    startedAt: startedAt.toISOString(),
    ...runInfo(),
    options: { ...opts, bots: bots.length },
  };
  if (opts.phases.includes('memory')) results.memory = await memoryPhase();
  if (opts.phases.includes('bots')) results.bots = await botsPhase();
  results.checks = checks;
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `resources-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');

  if (results.memory) printMemory(results.memory);
  if (results.bots) printBots(results.bots);
  console.log('');
  for (const c of checks) {
    console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.counted || c.ok ? '' : ' [not counted]'}`);
  }
  console.log(`\nresults: ${file}`);
  if (checks.some((c) => !c.ok && c.counted)) process.exitCode = 1;
}

await runBench(TAG, main);
