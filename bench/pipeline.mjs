// Update-pipeline benchmark (issue 9): scenarios that show what the update pipeline (webhook → queue → workers →
// Bot API) does under realistic Bot API latency, with many bots, at its concurrency ceiling, with one bot under
// flood control, and without latency. Run it through `npm run bench -- pipeline` (bench/run.sh prepares the
// database, the keys, the Redis prefix and the bench bots, and cleans up afterwards).
//
// The gateway is a black box here: webhook requests in (the bench's own sender, bench/lib.mjs `send`, which counts
// every 2xx exactly), Bot API calls out to the fake Telegram (bench/fake-telegram.mjs, one per scenario with that
// scenario's latency). Every update is a private text message `bench <update id> <send time>`; the gateway's echo
// feature (and the inline bots') send the same text back with sendMessage, from which the fake Telegram derives the
// end-to-end latency of each update and any reply sent twice. The gateway's own settings (WORKER_CONCURRENCY,
// WORKER_CONCURRENCY, ...) pass through from the environment to its processes.
//
// Scenarios (BENCH_SCENARIOS, a comma list; default all, in this order):
//   busy       1 bot, 40 connections, Bot API latency 50 ms: grammY inline, Telegraf inline, tg-gateway with 1 worker
//              process. Goal: gateway end-to-end updates/s ≥ 3 × max(inline).
//   bots       10 bots, 200 connections, 50 ms: the inline servers (one process each, serving all 10 bots, routed by
//              the token in the path) vs tg-gateway with 2 workers. Goal ≥ 1.2 ×.
//   ceiling    10 bots, 2,000 chats, 500 ms, default settings, 2 workers, paced at BENCH_RATE (1,000 updates/s: at
//              most 500 calls can be in flight): the most Bot API calls in flight at once. Goal ≥ 400.
//   isolation  10 bots, paced at 1,000 updates/s in total, 20 ms, 2 workers, twice: (a) all healthy; (b) plus one
//              more bot (not counted, at the same per-bot rate) whose every Bot API call is answered 429 with
//              retry_after FAKE_TELEGRAM_RETRY_AFTER (30 s). End-to-end latency of the healthy bots' updates. Goals:
//              p99(b) ≤ 2 × p99(a) + 50 ms, max(b) ≤ 5 s.
//   forward    10 bots, 50 connections, 1 worker, Bot API and receiver latency 50 ms: the in-process pipeline (the
//              echo feature replies with sendMessage) next to forwarding (no features; each bot has an HTTP
//              destination, the fake Telegram's /receiver, which counts deliveries like replies). Reported, no goal.
//   forward0   the same with latency 0.
//   nolatency  10 bots, 50 connections, latency 0: end to end, gateway (BENCH_WORKERS, default 1) vs the faster
//              inline bot (goal ≥ 0.8 ×); ingress, the API alone vs bench/bare-server.mjs at saturation (goal ≥ 0.4 ×)
//              and their p99 at a paced BENCH_INGRESS_RATE (2,000 req/s; goal: API p99 ≤ 2 × bare p99 + 2 ms); CPU
//              per update per stage (API, workers, Redis).
//
// Per target: BENCH_WARMUP seconds of warm-up (its replies must catch up first), BENCH_DURATION seconds measured,
// then a wait of at most BENCH_DRAIN_TIMEOUT seconds for the last reply. End-to-end updates/s = updates accepted
// during the measured load / time from its start to the last reply (for an inline bot, the request rate). Checks
// (exit code 1 if one fails): every request 2xx, no socket errors, exactly one reply per accepted update (none
// lost, none duplicated; the flooded bot excluded). Goals are reported, not checked.
//
// Settings (environment): BENCH_SCENARIOS, BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_DRAIN_TIMEOUT (60),
// BENCH_WAIT_IDLE (20), and overriding every scenario's default: BENCH_CONNECTIONS, BENCH_BOTS, BENCH_CHATS (1,000;
// ceiling 2,000), BENCH_LATENCY_MS, BENCH_WORKERS, BENCH_RATE (ceiling, isolation); BENCH_INGRESS_RATE (nolatency).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { Redis } from 'ioredis';
import {
  baseEnv,
  cpuWindow,
  deleteKeys,
  deliveryChecks,
  fmt,
  here,
  loadBots,
  measureEndToEnd,
  positiveInt,
  printChecks,
  redisPid,
  resultsDir,
  round,
  runBench,
  runDir,
  runInfo,
  send,
  startFakeTelegram,
  startGateway,
  startInlineServer,
  startNode,
  stopChild,
  stopChildrenOnSignals,
  table,
  telegramStats,
  updateSource,
  waitForIdle,
} from './lib.mjs';

const TAG = 'pipeline';
const env = process.env;
const ALL = ['busy', 'bots', 'ceiling', 'isolation', 'nolatency', 'forward', 'forward0'];
const DEFAULTS = {
  busy: { bots: 1, connections: 40, latencyMs: 50, chats: 1000, workers: 1 },
  bots: { bots: 10, connections: 200, latencyMs: 50, chats: 1000, workers: 2 },
  ceiling: { bots: 10, connections: 50, latencyMs: 500, chats: 2000, workers: 2, rate: 1000 },
  isolation: { bots: 10, connections: 50, latencyMs: 20, chats: 1000, workers: 2, rate: 1000 },
  nolatency: { bots: 10, connections: 50, latencyMs: 0, chats: 1000, workers: 1, ingressRate: 2000 },
  forward: { bots: 10, connections: 50, latencyMs: 50, chats: 1000, workers: 1 },
  forward0: { bots: 10, connections: 50, latencyMs: 0, chats: 1000, workers: 1 },
};
const common = {
  duration: positiveInt('BENCH_DURATION', 10),
  warmup: positiveInt('BENCH_WARMUP', 2, 0),
  drainTimeout: positiveInt('BENCH_DRAIN_TIMEOUT', 60, 0),
  waitIdle: positiveInt('BENCH_WAIT_IDLE', 20, 0),
};
const scenarios = (env.BENCH_SCENARIOS || ALL.join(',')).split(',').map((name) => name.trim());
for (const name of scenarios) {
  if (!ALL.includes(name)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${name}" (one of ${ALL.join(', ')})`);
}

/** A scenario's settings: its defaults, each overridden by its BENCH_ variable when set. */
function settingsOf(name) {
  const d = DEFAULTS[name];
  return {
    ...common,
    bots: positiveInt('BENCH_BOTS', d.bots),
    connections: positiveInt('BENCH_CONNECTIONS', d.connections),
    latencyMs: positiveInt('BENCH_LATENCY_MS', d.latencyMs, 0),
    chats: positiveInt('BENCH_CHATS', d.chats),
    workers: positiveInt('BENCH_WORKERS', d.workers),
    rate: d.rate ? positiveInt('BENCH_RATE', d.rate) : null,
    ingressRate: d.ingressRate ? positiveInt('BENCH_INGRESS_RATE', d.ingressRate) : null,
  };
}

stopChildrenOnSignals(TAG);
const say = (text) => process.stdout.write(text);
const allBots = loadBots();
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 });
redis.on('error', () => undefined);
const redisPrefix = env.REDIS_PREFIX ?? 'tgw';
const redisPidOf = await redisPid(redis);

function botsFor(s, extra = 0) {
  if (allBots.length < s.bots + extra) {
    throw new Error(`${s.bots + extra} bots needed, ${allBots.length} registered (run.sh registers BENCH_BOTS + 1)`);
  }
  return allBots.slice(0, s.bots + extra);
}

// ---------------------------------------------------------------------------------------------------------------
// Targets

const INLINE = [
  { label: 'grammY inline', script: 'e2e-grammy.mjs', logName: 'grammy' },
  { label: 'Telegraf inline', script: 'e2e-telegraf.mjs', logName: 'telegraf' },
];

/**
 * One end-to-end target (started by `start()`, which resolves { url, pids, exited(), stop(), extra?() }), loaded
 * with fresh stamped updates over `bots` (closed loop over s.connections, or paced at `rate`). Replies and accepted
 * updates are those of the `counted` bots (default: all of `bots`).
 */
async function endToEnd(scenario, label, s, { start, bots, telegram, rate, counted = bots }) {
  const counter = {};
  const countedIds = counted.map((b) => String(b.telegramId));
  const sum = (byId) => countedIds.reduce((total, id) => total + (byId?.[id] ?? 0), 0);
  const next = updateSource(bots, s.chats, { stamped: true });
  const load = (url, seconds) => send(url, { seconds, connections: s.connections, rate, next, counter });
  const replies = async () => {
    const { byBot } = await telegramStats(telegram.url);
    return countedIds.reduce((total, id) => total + (byBot[id]?.sendMessage ?? 0), 0);
  };
  const target = await start();
  try {
    const pids = { ...target.pids, fakeTelegram: telegram.pid, redis: redisPidOf };
    const result = await measureEndToEnd(
      label,
      { url: target.url, pids, accepted: async () => sum(counter), exited: target.exited },
      { telegramUrl: telegram.url, load, opts: { ...s, rate }, tag: `${TAG}: ${scenario}`, replies },
    );
    const byBot = result.totals.telegramByBot;
    const unique = countedIds.reduce((total, id) => total + (byBot[id]?.unique ?? 0), 0);
    const duplicates = countedIds.reduce((total, id) => total + (byBot[id]?.duplicates ?? 0), 0);
    // The 2xx counts of the counted bots only (the sender counts every bot's).
    const counted2xx = (run) => (run ? sum(run.acceptedByBot) : 0);
    result.totals.autocannon2xx = counted2xx(result) + counted2xx(result.warmup);
    result.totals.uniqueReplies = unique;
    result.totals.duplicateReplies = duplicates;
    // Updates of the measured load without a reply when the wait ended: their latency is unknown, but longer than
    // the wait, so the latency summary of the replies alone would flatter a target that did not catch up.
    result.totals.measuredWithoutReply = Math.max(
      0,
      result.window.acceptedInWindow - result.totals.telegram.latencyMs.count,
    );
    return { label, ...result, ...(target.extra ? await target.extra() : {}) };
  } finally {
    await target.stop();
  }
}

function inlineTarget(server, bots, telegram) {
  return () => startInlineServer({ ...server, bots, telegram });
}

function gatewayTarget(logName, workers, telegram, { extraEnv = {}, prepare, undo } = {}) {
  return async () => {
    const gateway = await startGateway({ logName, workers, telegram, extraEnv });
    await prepare?.(gateway);
    return {
      url: gateway.apiUrl,
      pids: gateway.pids,
      exited: gateway.exited,
      extra: async () => ({ kind: 'gateway', workers, logWarnings: gateway.logWarnings() }),
      // Fresh for the next target: nothing left behind (updates not drained, a flooded bot's retries).
      stop: async () => {
        await undo?.(gateway);
        await gateway.stop();
        await deleteKeys(redis, redisPrefix).catch(() => undefined);
      },
    };
  };
}

const gatewayLabel = (workers) => `tg-gateway, ${workers} worker${workers === 1 ? '' : 's'}`;

/** The inline servers, then the gateway, over the same bots: [inline..., gateway]. */
async function compare(scenario, s, telegram) {
  const bots = botsFor(s);
  const results = [];
  for (const server of INLINE) {
    results.push({
      ...(await endToEnd(scenario, server.label, s, { start: inlineTarget(server, bots, telegram), bots, telegram })),
      kind: 'inline',
    });
  }
  const start = gatewayTarget(`${scenario}-gateway`, s.workers, telegram);
  results.push(await endToEnd(scenario, gatewayLabel(s.workers), s, { start, bots, telegram }));
  return results;
}

function checksOf(r, s) {
  const out = deliveryChecks(r, s.drainTimeout);
  out.push({
    name: `${r.label}: each accepted update replied to once (by update id)`,
    ok: r.totals.uniqueReplies === r.totals.accepted && r.totals.duplicateReplies === 0,
    detail: `${r.totals.uniqueReplies} updates replied to, ${r.totals.duplicateReplies} duplicate replies`,
  });
  return out;
}

const goal = (name, value, target, ok, unit = '') => ({
  name,
  value,
  target,
  ok: value !== null && value !== undefined && ok,
  unit,
});
const bestInline = (results) =>
  Math.max(...results.filter((r) => r.kind === 'inline').map((r) => r.window.endToEndPerSecond));
const gatewayOf = (results) => results.find((r) => r.kind === 'gateway');

// ---------------------------------------------------------------------------------------------------------------
// Scenarios: each returns { settings, targets, goals, extra? }

async function busy(s, telegram) {
  const targets = await compare('busy', s, telegram);
  const ratio = round(gatewayOf(targets).window.endToEndPerSecond / bestInline(targets), 3);
  return { targets, goals: [goal('gateway / max(inline), end-to-end updates/s', ratio, '≥ 3', ratio >= 3, '×')] };
}

async function bots(s, telegram) {
  const targets = await compare('bots', s, telegram);
  const ratio = round(gatewayOf(targets).window.endToEndPerSecond / bestInline(targets), 3);
  return { targets, goals: [goal('gateway / max(inline), end-to-end updates/s', ratio, '≥ 1.2', ratio >= 1.2, '×')] };
}

async function ceiling(s, telegram) {
  const list = botsFor(s);
  const start = gatewayTarget('ceiling-gateway', s.workers, telegram);
  const r = await endToEnd('ceiling', gatewayLabel(s.workers), s, { start, bots: list, telegram, rate: s.rate });
  const max = r.totals.telegram.inFlight.max;
  return {
    targets: [r],
    goals: [goal('Bot API calls in flight at once (max)', max, '≥ 400', max >= 400)],
    note: `paced at ${s.rate} updates/s: at most ${Math.round((s.rate * s.latencyMs) / 1000)} calls can be in flight`,
  };
}

async function isolation(s, telegram, flood) {
  const healthy = botsFor(s);
  const withFlood = [...healthy, flood];
  const runs = [];
  for (const [run, list] of [
    ['a: all bots healthy', healthy],
    ['b: plus one bot under flood control', withFlood],
  ]) {
    // The same per-bot rate in both runs: (b) adds the flooded bot's share on top.
    const rate = Math.round((s.rate * list.length) / healthy.length);
    const start = gatewayTarget(`isolation-${run[0]}-gateway`, s.workers, telegram);
    const label = `${gatewayLabel(s.workers)}, ${run}`;
    runs.push(await endToEnd('isolation', label, s, { start, bots: list, telegram, rate, counted: healthy }));
  }
  const [a, b] = runs.map(tailOf);
  const p99Limit = a.p99 === null ? null : round(2 * a.p99 + 50, 1);
  return {
    targets: runs,
    goals: [
      goal('p99 healthy latency (b)', b.p99, `≤ 2 × p99(a) + 50 = ${fmt(p99Limit, 1)}`, b.p99 <= p99Limit, ' ms'),
      goal('max healthy latency (b)', b.max, '≤ 5,000', b.max !== null && b.max <= 5000, ' ms'),
    ],
    // Infinity (no reply within the wait) is null in the JSON: see withoutReply.
    latency: { a, b },
    floodedCalls: runs[1].totals.telegram.flooded,
  };
}

/**
 * The end-to-end latency of a run's measured updates, those without a reply counted as infinitely late: p99 is ∞
 * when more than 1% of them had none, max when any had none.
 */
function tailOf(r) {
  const l = r.totals.telegram.latencyMs;
  const missing = r.totals.measuredWithoutReply;
  const expected = l.count + missing;
  return {
    ...l,
    withoutReply: missing,
    p99: missing > 0.01 * expected ? Infinity : l.p99,
    max: missing > 0 ? Infinity : l.max,
  };
}

/** Ingress: a target at saturation (closed loop) and at a paced rate; CPU per request of its processes. */
async function ingress(label, url, pids, s, bots) {
  await waitForIdle(label, { seconds: s.waitIdle, tag: `${TAG}: nolatency` });
  const next = updateSource(bots, s.chats);
  const run = (seconds, rate) => send(url, { seconds, connections: s.connections, rate, next });
  if (s.warmup > 0) await run(s.warmup);
  say(`${TAG}: nolatency: ${label}: ${s.connections} connections, ${s.duration} s... `);
  const endWindow = cpuWindow(pids);
  const saturated = await run(s.duration);
  const { wallSeconds, cpuCores } = endWindow();
  say(`${fmt(saturated.requestsAverage)} req/s; paced ${s.ingressRate} req/s... `);
  const paced = await run(s.duration, s.ingressRate);
  say(`p50 ${fmt(paced.latencyMs.p50, 1)} ms, p99 ${fmt(paced.latencyMs.p99, 1)} ms\n`);
  const usPerRequest = Object.fromEntries(
    Object.keys(pids).map((name) => [
      name,
      cpuCores[name] === null ? null : round((cpuCores[name] * wallSeconds * 1e6) / saturated.status2xx),
    ]),
  );
  return { label, kind: 'ingress', saturated, paced, cpuCores, cpuMicrosecondsPerRequest: usPerRequest };
}

/** CPU per update per stage (µs), from the start of the load to the last reply, for the gateway and the inline bots. */
function cpuPerStage(targets) {
  const gw = gatewayOf(targets);
  const { wallSeconds, cores } = gw.cpuCoresToLastReply;
  const perUpdate = (c) =>
    c === null || c === undefined ? null : round((c * wallSeconds * 1e6) / gw.window.acceptedInWindow);
  const stages = {};
  for (const [name, c] of Object.entries(cores)) {
    if (['loadGenerator', 'otherProcesses', 'machineTotal'].includes(name)) continue;
    stages[name] = perUpdate(c);
  }
  for (const r of targets.filter((t) => t.kind === 'inline')) {
    const { wallSeconds: w, cores: c } = r.cpuCoresToLastReply;
    stages[`${r.label}: server`] = round((c.server * w * 1e6) / r.window.acceptedInWindow);
    stages[`${r.label}: redis`] = round((c.redis * w * 1e6) / r.window.acceptedInWindow);
  }
  return stages;
}

async function nolatency(s, telegram) {
  // BENCH_NOLATENCY_E2E=0 measures the ingress part only (for profiling the API).
  const endToEnd = env.BENCH_NOLATENCY_E2E !== '0';
  const targets = endToEnd ? await compare('nolatency', s, telegram) : [];
  const ratio = endToEnd ? round(gatewayOf(targets).window.endToEndPerSecond / bestInline(targets), 3) : null;
  const stages = endToEnd ? cpuPerStage(targets) : {};

  const bots = botsFor(s);
  const bare = startNode('nolatency-bare', [join(here, 'bare-server.mjs')], baseEnv, { firstLine: true });
  let bareResult;
  try {
    // It prints its address once it listens.
    const { url } = JSON.parse(await bare.line);
    bareResult = await ingress('bare Fastify', url, { server: bare.entry.child.pid }, s, bots);
  } finally {
    await stopChild(bare.entry);
  }
  // The least a Redis-backed acknowledgement costs here: not a goal, a reference for the paced p99.
  const minimal = startNode('nolatency-redis-route', [join(here, 'redis-route-server.mjs')], baseEnv, {
    firstLine: true,
  });
  let minimalResult;
  try {
    const { url } = JSON.parse(await minimal.line);
    minimalResult = await ingress(
      'minimal Redis route',
      url,
      { server: minimal.entry.child.pid, redis: redisPidOf },
      s,
      bots,
    );
  } finally {
    await stopChild(minimal.entry);
    await deleteKeys(redis, `${redisPrefix}:minimal`).catch(() => undefined);
  }
  const api = await startGateway({ logName: 'nolatency-api-only', workers: 0, telegram });
  let apiResult;
  try {
    apiResult = await ingress('tg-gateway API alone', api.apiUrl, { api: api.pids.api, redis: redisPidOf }, s, bots);
  } finally {
    await api.stop();
    await deleteKeys(redis, redisPrefix).catch(() => undefined);
  }
  const ingressRatio = round(apiResult.saturated.requestsAverage / bareResult.saturated.requestsAverage, 3);
  const bareP99 = bareResult.paced.latencyMs.p99;
  const apiP99 = apiResult.paced.latencyMs.p99;
  const p99Limit = bareP99 === null ? null : round(2 * bareP99 + 2, 1);
  return {
    targets,
    ingress: [bareResult, minimalResult, apiResult],
    cpuMicrosecondsPerUpdate: stages,
    goals: [
      ...(endToEnd ? [goal('gateway / max(inline), end-to-end updates/s', ratio, '≥ 0.8', ratio >= 0.8, '×')] : []),
      goal('ingress: API alone / bare, req/s', ingressRatio, '≥ 0.4', ingressRatio >= 0.4, '×'),
      goal(
        `ingress p99 at a paced ${s.ingressRate} req/s`,
        apiP99,
        `≤ 2 × bare p99 (${fmt(bareP99, 1)}) + 2 = ${fmt(p99Limit, 1)}`,
        apiP99 <= p99Limit,
        ' ms',
      ),
    ],
  };
}

/** An admin API call to a bench gateway, with the run's operator key. */
async function admin(gateway, method, path, body) {
  const res = await fetch(`${gateway.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${(env.ADMIN_API_KEYS ?? '').split(',')[0]}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * The in-process pipeline (every built-in feature, the echo replies) next to forwarding: the same bots without
 * features, each with an HTTP destination to the fake Telegram's /receiver (counted like replies).
 */
async function forwarding(s, telegram, name) {
  const list = botsFor(s);
  const inProcess = await endToEnd(name, 'in-process (echo feature)', s, {
    start: gatewayTarget(`${name}-inprocess`, s.workers, telegram),
    bots: list,
    telegram,
  });
  const saved = new Map();
  const forwarded = await endToEnd(name, 'forwarded (HTTP destination)', s, {
    start: gatewayTarget(`${name}-forwarded`, s.workers, telegram, {
      extraEnv: { DESTINATION_ALLOWED_IPS: '127.0.0.1' },
      prepare: async (gateway) => {
        for (const bot of list) {
          saved.set(bot.id, (await admin(gateway, 'GET', `/admin/bots/${bot.id}/features`)).features);
          await admin(gateway, 'PUT', `/admin/bots/${bot.id}/features`, { features: [] });
          const url = `${telegram.url}/receiver/${bot.telegramId}`;
          await admin(gateway, 'POST', `/admin/bots/${bot.id}/destinations`, { kind: 'http', url });
        }
      },
      undo: async (gateway) => {
        for (const bot of list) {
          for (const d of await admin(gateway, 'GET', `/admin/bots/${bot.id}/destinations`)) {
            await admin(gateway, 'DELETE', `/admin/bots/${bot.id}/destinations/${d.id}`);
          }
          if (saved.has(bot.id))
            await admin(gateway, 'PUT', `/admin/bots/${bot.id}/features`, { features: saved.get(bot.id) });
        }
      },
    }),
    bots: list,
    telegram,
  });
  forwarded.kind = 'gateway';
  const ratio = round(forwarded.window.endToEndPerSecond / inProcess.window.endToEndPerSecond, 3);
  return {
    targets: [inProcess, forwarded],
    goals: [goal('forwarded / in-process, end-to-end updates/s', ratio, '(reported)', true, '×')],
  };
}

const RUN = {
  busy,
  bots,
  ceiling,
  isolation,
  nolatency,
  forward: (s, telegram) => forwarding(s, telegram, 'forward'),
  forward0: (s, telegram) => forwarding(s, telegram, 'forward0'),
};

// ---------------------------------------------------------------------------------------------------------------
// The run

function printScenario(name, s, out) {
  console.log(
    `\n== ${name}: ${s.bots} bot(s), ${s.chats} chats, ` +
      `${s.rate ? `paced ${s.rate} updates/s` : `${s.connections} connections`}, Bot API latency ${s.latencyMs} ms, ` +
      `${s.warmup} s warm-up + ${s.duration} s`,
  );
  console.log(
    table([
      [
        'target',
        'end to end upd/s',
        'accepted/s',
        'webhook p99',
        'accepted',
        'replies',
        'dup',
        'no reply',
        'e2e p50',
        'e2e p99',
        'e2e max',
        'max in flight',
        'last reply after load',
        'CPU ms/upd',
      ],
      ...out.targets.map((r) => [
        r.label,
        fmt(r.window.endToEndPerSecond),
        fmt(r.window.acceptedPerSecond),
        `${fmt(r.latencyMs.p99, 1)} ms`,
        fmt(r.totals.accepted),
        fmt(r.totals.replies),
        fmt(r.totals.duplicateReplies),
        fmt(r.totals.accepted - r.totals.uniqueReplies),
        `${fmt(tailOf(r).p50, 1)} ms`,
        `${fmt(tailOf(r).p99, 1)} ms`,
        `${fmt(tailOf(r).max, 1)} ms`,
        fmt(r.totals.telegram.inFlight.max),
        r.totals.caughtUp ? `${fmt(r.window.lastReplyAfterLoadSeconds, 2)} s` : `not within ${s.drainTimeout} s`,
        fmt(r.cpuMsPerUpdate, 3),
      ]),
    ]),
  );
  console.log(
    '(end to end upd/s = accepted during the measured load / time from its start to the last reply; e2e p50/p99/max = ' +
      "from an update's send to its reply reaching the fake Telegram, updates of the measured load, ∞ when more " +
      'than 1% (p99) or any (max) had no reply within the wait; accepted, replies, dup, no reply include the warm-up)',
  );
  if (out.ingress) {
    console.log('');
    console.log(
      table([
        ['ingress target', 'req/s', 'p99', `paced ${s.ingressRate}/s: p50`, 'p99', 'p99.9', 'CPU µs/request'],
        ...out.ingress.map((r) => [
          r.label,
          fmt(r.saturated.requestsAverage),
          `${fmt(r.saturated.latencyMs.p99, 1)} ms`,
          `${fmt(r.paced.latencyMs.p50, 1)} ms`,
          `${fmt(r.paced.latencyMs.p99, 1)} ms`,
          `${fmt(r.paced.latencyMs.p999, 1)} ms`,
          Object.entries(r.cpuMicrosecondsPerRequest)
            .map(([who, us]) => `${who} ${fmt(us)}`)
            .join(', '),
        ]),
      ]),
    );
    console.log(
      `CPU per update, end to end (µs, load start → last reply): ` +
        Object.entries(out.cpuMicrosecondsPerUpdate)
          .map(([who, us]) => `${who} ${fmt(us)}`)
          .join(', '),
    );
  }
  if (out.note) console.log(`(${out.note})`);
  for (const r of out.targets) {
    const other = Math.max(r.cpuCores.otherProcesses ?? 0, r.cpuCoresToLastReply.cores.otherProcesses ?? 0);
    if (other > 0.2) console.log(`WARNING: other processes used ${other.toFixed(2)} cores during "${r.label}"`);
  }
}

async function main() {
  const startedAt = new Date();
  console.log(
    `${TAG}: scenarios ${scenarios.join(', ')}; ${cpus().length} CPU(s), node ${process.version}` +
      (env.BENCH_SOURCE ? `; code under test: ${env.BENCH_SOURCE}` : ''),
  );
  const output = { benchmark: 'pipeline', startedAt: startedAt.toISOString(), ...runInfo(), scenarios: {} };
  const checks = [];
  const goals = [];
  for (const name of scenarios) {
    const s = settingsOf(name);
    const flood = name === 'isolation' ? botsFor(s, 1)[s.bots] : null;
    const telegram = await startFakeTelegram(`${name}-fake-telegram`, {
      FAKE_TELEGRAM_DELAY_MS: String(s.latencyMs),
      ...(flood ? { FAKE_TELEGRAM_FLOOD_BOTS: String(flood.telegramId) } : {}),
    });
    let out;
    try {
      out = await RUN[name](s, telegram, flood);
    } finally {
      await stopChild(telegram.entry);
    }
    for (const r of out.targets) checks.push(...checksOf(r, s).map((c) => ({ ...c, name: `${name}: ${c.name}` })));
    for (const r of out.ingress ?? []) {
      for (const [run, result] of [
        ['saturated', r.saturated],
        ['paced', r.paced],
      ]) {
        checks.push({
          name: `${name}: ${r.label}, ${run}: every request answered 2xx`,
          ok: result.non2xx === 0 && result.errors === 0,
          detail: `${result.non2xx} non-2xx, ${result.errors} errors ${JSON.stringify(result.statusCodes)}`,
        });
      }
    }
    goals.push(...out.goals.map((g) => ({ scenario: name, ...g })));
    output.scenarios[name] = { settings: s, ...out };
    printScenario(name, s, out);
  }
  output.goals = goals;
  output.checks = checks;
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `pipeline-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(output, null, 2) + '\n');

  console.log('\nGoals:');
  console.log(
    table([
      ['scenario', 'goal', 'value', 'target', 'result'],
      ...goals.map((g) => [
        g.scenario,
        g.name,
        `${fmt(g.value, g.unit === '×' ? 3 : g.unit === ' ms' ? 1 : 0)}${g.unit}`,
        g.target.startsWith('(') ? g.target : `${g.target}${g.unit === '×' ? ' ×' : g.unit}`,
        g.ok ? 'ok' : 'not met',
      ]),
    ]),
  );
  console.log('');
  printChecks(checks);
  console.log(`\nresults: ${file}\nlogs: ${runDir}`);
}

await runBench(TAG, main, () => redis.disconnect());
