// End-to-end benchmark: update accepted → handlers → reply received by the Bot API. Run it through
// `npm run bench -- e2e` (bench/run.sh), which prepares the database, the keys, the Redis prefix and the bench
// bots, and cleans up afterwards.
//
// In one run, one target after the other, with the same load (autocannon in this process, BENCH_CONNECTIONS
// connections, BENCH_DURATION seconds after a BENCH_WARMUP seconds end-to-end warm-up), the same requests (a fresh
// update per request with a new update_id: the text 'hello' in one of BENCH_CHATS private chats, to the first
// bench bot) and the same fake Telegram (bench/fake-telegram.mjs, one process for the whole run, counting the
// sendMessage calls it receives):
//   grammY:     bench/e2e-grammy.mjs, a single-bot server: Fastify + grammY's webhookCallback running the
//               gateway's own compiled dispatcher inline (Redis sessions, then the features);
//   Telegraf:   bench/e2e-telegraf.mjs, the same with Telegraf's webhookCallback and the handlers ported to it;
//   tg-gateway: the API process (dist/main-api.js) and N worker processes (dist/main-worker.js), for each N of
//               BENCH_WORKERS (default 1; a list such as 1,2 measures each count in turn, each with fresh processes).
// The single-bot servers answer the webhook once the handlers have run (their latency includes the reply); the
// gateway answers once the update is queued, and its workers may lag behind. So for every target:
//   - replies/s during the load: sendMessage calls the fake Telegram received during the measured window / window;
//   - end-to-end updates/s: updates accepted during the window / (time from the start of the load until the last
//     reply), after waiting (BENCH_DRAIN_TIMEOUT seconds at most) for the replies to catch up with the accepted
//     updates. This is the number compared: for a queue it is the honest one.
// Checks (exit code 1 if one fails): every request answered 2xx, no socket errors or timeouts, exactly one reply per
// accepted update (none lost, none duplicated), and for the gateway no duplicate/rejected outcome or failed update.
// Before each target it waits (BENCH_WAIT_IDLE seconds at most) for the machine to be quiet.
//
// Environment (set by run.sh): BENCH_BOTS_FILE, BENCH_DIST, BENCH_RUN_DIR, BENCH_RESULTS_DIR, the gateway's own
// variables (DATABASE_URL, REDIS_URL, REDIS_PREFIX, TOKEN_ENCRYPTION_KEYS, ...), and optionally BENCH_DURATION,
// BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_CHATS, BENCH_DRAIN_TIMEOUT (default 120), BENCH_WAIT_IDLE, BENCH_WORKERS,
// BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS (extra node flags for the gateway's processes). Helpers: bench/lib.mjs.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  baseEnv,
  gatewayEnv,
  cpuWindow,
  dist,
  fmt,
  freePort,
  getJson,
  getText,
  here,
  load as loadAt,
  loadBots,
  nodeArgs,
  metricLabels,
  metricSum,
  positiveInt,
  procStats,
  redisMemory,
  redisPid,
  resultsDir,
  round,
  runDir,
  startNode,
  stopAll,
  stopChild,
  table,
  updateRequests,
  waitForHttp,
  waitForIdle,
  stopChildrenOnSignals,
  runInfo,
} from './lib.mjs';

const env = process.env;
const opts = {
  duration: positiveInt('BENCH_DURATION', 10),
  warmup: positiveInt('BENCH_WARMUP', 2, 0),
  connections: positiveInt('BENCH_CONNECTIONS', 50),
  drainTimeout: positiveInt('BENCH_DRAIN_TIMEOUT', 120, 0),
  waitIdle: positiveInt('BENCH_WAIT_IDLE', 20, 0),
  chats: positiveInt('BENCH_CHATS', 1000),
  workers: workerCounts(env.BENCH_WORKERS ?? '1'),
  // 0: the gateway alone (for profiling; nothing to compare with, so no ratio is reported).
  comparators: env.BENCH_COMPARATORS !== '0',
};
const TAG = 'e2e';

function workerCounts(raw) {
  const counts = raw.split(',').map((part) => part.trim());
  if (counts.some((part) => !/^\d+$/.test(part) || Number(part) < 1 || Number(part) > 32)) {
    throw new Error(`BENCH_WORKERS must be a worker count or a list of them, 1 to 32 (got "${raw}")`);
  }
  return [...new Set(counts.map(Number))];
}

stopChildrenOnSignals(TAG);

// The single-bot servers serve one bot: every target gets the same requests, to the first bench bot.
const allBots = loadBots();
const bot = allBots[0];
const botInfo = {
  id: bot.telegramId,
  is_bot: true,
  first_name: 'Bench 1',
  username: `bench_${bot.telegramId}_bot`,
  can_join_groups: true,
  can_read_all_group_messages: false,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
};
const setupRequest = updateRequests([bot], opts.chats);
const load = (url, seconds) => loadAt(url, seconds, { connections: opts.connections, setupRequest });
const redisPrefix = env.REDIS_PREFIX ?? 'tgw';

// ---------------------------------------------------------------------------------------------------------------
// Measurement

const say = (text) => process.stdout.write(text);

async function sendMessages(telegramUrl) {
  return (await getJson(`${telegramUrl}/stats`)).methods.sendMessage ?? 0;
}

/**
 * Waits until the replies caught up with the accepted updates (or `timeoutMs` passed, or a process of the target
 * died). Polls the fake Telegram every 50 ms and the accepted count every 150 ms; the accepted count must have been
 * stable for 300 ms (requests in flight when the load stopped still finish). Returns the final counts and the time
 * (performance.now()) at which the final reply count was first seen.
 */
async function waitForReplies(target, telegramUrl, timeoutMs, initial) {
  const deadline = performance.now() + timeoutMs;
  let replies = initial?.replies ?? (await sendMessages(telegramUrl));
  let lastReplyAt = initial?.at ?? performance.now();
  let accepted = await target.accepted();
  let acceptedStableSince = performance.now();
  let polls = 0;
  for (;;) {
    const now = performance.now();
    if (replies >= accepted && now - acceptedStableSince >= 300) break;
    if (now > deadline || target.exited()) break;
    await sleep(50);
    const r = await sendMessages(telegramUrl);
    if (r !== replies) {
      replies = r;
      lastReplyAt = performance.now();
    }
    if (++polls % 3 === 0) {
      const a = await target.accepted();
      if (a !== accepted) {
        accepted = a;
        acceptedStableSince = performance.now();
      }
    }
  }
  return { replies, accepted, lastReplyAt, caughtUp: replies >= accepted };
}

/**
 * One target: warm-up (end to end: the replies must catch up before the measurement starts), then BENCH_DURATION
 * seconds of load, then the wait for the last reply. `target`: { url, pids, accepted(), exited() }; counts are
 * taken since the fake Telegram's statistics were reset at the start of the target.
 */
async function measure(label, target, telegramUrl) {
  const busyBeforeStart = await waitForIdle(label, { seconds: opts.waitIdle, tag: TAG });
  await fetch(`${telegramUrl}/stats`, { method: 'DELETE', signal: AbortSignal.timeout(5_000) });
  const acceptedBase = await target.accepted();
  const counted = { accepted: async () => (await target.accepted()) - acceptedBase, exited: target.exited };

  let warmup = null;
  if (opts.warmup > 0) {
    say(`${TAG}: ${label}: warm-up ${opts.warmup} s... `);
    const run = await load(target.url, opts.warmup);
    const started = performance.now();
    const caught = await waitForReplies(counted, telegramUrl, opts.drainTimeout * 1000);
    warmup = { ...run, secondsToCatchUp: round((performance.now() - started) / 1000, 2), caughtUp: caught.caughtUp };
    say(
      `${fmt(run.requestsAverage)} req/s` +
        (caught.caughtUp
          ? ''
          : ` (replies still behind after ${opts.drainTimeout} s: ${caught.replies}/${caught.accepted})`) +
        '\n',
    );
  }

  say(`${TAG}: ${label}: ${opts.connections} connections, ${opts.duration} s... `);
  const repliesBefore = await sendMessages(telegramUrl);
  const acceptedBefore = await counted.accepted();
  const endLoadWindow = cpuWindow(target.pids);
  const endFullWindow = cpuWindow(target.pids);
  const started = performance.now();
  const run = await load(target.url, opts.duration);
  const loadWindow = endLoadWindow();
  const repliesAtLoadEnd = await sendMessages(telegramUrl);
  const loadEndedAt = performance.now();
  say(`${fmt(run.requestsAverage)} req/s answered; waiting for the last reply... `);

  const final = await waitForReplies(counted, telegramUrl, opts.drainTimeout * 1000, {
    replies: repliesAtLoadEnd,
    at: loadEndedAt,
  });
  const fullWindow = endFullWindow();
  const loadSeconds = (loadEndedAt - started) / 1000;
  const secondsToLastReply = (final.lastReplyAt - started) / 1000;
  const acceptedInWindow = final.accepted - acceptedBefore;
  const window = {
    loadSeconds: round(loadSeconds, 3),
    repliesDuringLoad: repliesAtLoadEnd - repliesBefore,
    repliesPerSecondDuringLoad: round((repliesAtLoadEnd - repliesBefore) / loadSeconds),
    acceptedInWindow,
    secondsToLastReply: round(secondsToLastReply, 3),
    lastReplyAfterLoadSeconds: round((final.lastReplyAt - loadEndedAt) / 1000, 3),
    endToEndPerSecond: round(acceptedInWindow / secondsToLastReply),
    repliesBehindAtLoadEnd: Math.max(0, final.accepted - repliesAtLoadEnd),
  };
  say(
    final.caughtUp
      ? `last reply ${window.lastReplyAfterLoadSeconds.toFixed(2)} s after the load → ${fmt(window.endToEndPerSecond)} updates/s end to end\n`
      : `gave up after ${opts.drainTimeout} s (${final.replies}/${final.accepted} replies)\n`,
  );
  const telegram = await getJson(`${telegramUrl}/stats`);
  // CPU time of the target's own processes and Redis per update, from the start of the load to the last reply.
  const ownCores = Object.entries(fullWindow.cpuCores)
    .filter(([name]) => !['loadGenerator', 'fakeTelegram', 'otherProcesses', 'machineTotal'].includes(name))
    .reduce((sum, [, cores]) => sum + (cores ?? 0), 0);
  return {
    ...run,
    warmup,
    busyCoresBeforeStart: busyBeforeStart,
    wallSeconds: loadWindow.wallSeconds,
    cpuCores: loadWindow.cpuCores,
    cpuCoresToLastReply: { wallSeconds: round(fullWindow.wallSeconds, 3), cores: fullWindow.cpuCores },
    cpuMsPerUpdate:
      acceptedInWindow > 0 ? round((ownCores * fullWindow.wallSeconds * 1000) / acceptedInWindow, 3) : null,
    window,
    totals: {
      accepted: final.accepted,
      replies: telegram.methods.sendMessage ?? 0,
      caughtUp: final.caughtUp,
      telegramCalls: telegram.methods,
      telegramConnections: telegram.connections,
      autocannon2xx: run.status2xx + (warmup?.status2xx ?? 0),
      non2xx: run.non2xx + (warmup?.non2xx ?? 0),
      errors: run.errors + (warmup?.errors ?? 0),
      timeouts: run.timeouts + (warmup?.timeouts ?? 0),
      // Requests in flight when autocannon stopped are handled without being counted as 2xx.
      inFlightAllowance: opts.connections * (warmup ? 2 : 1),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Targets

function botEnv(telegramUrl, prefix) {
  return {
    ...baseEnv,
    E2E_BOT_TOKEN: bot.token,
    E2E_BOT_SECRET: bot.secret,
    E2E_BOT_INFO: JSON.stringify(botInfo),
    E2E_API_ROOT: telegramUrl,
    E2E_REDIS_PREFIX: prefix,
  };
}

/** A single-bot server (bench/e2e-grammy.mjs or bench/e2e-telegraf.mjs). */
async function runServer({ label, script, logName, telegram, redisPidOf }) {
  // Under the run's prefix (cleaned up by run.sh), in a namespace of its own.
  const prefix = `${redisPrefix}:${logName}`;
  const { entry, line } = startNode(logName, [join(here, script)], botEnv(telegram.url, prefix), {
    firstLine: true,
  });
  try {
    const { url } = JSON.parse(await line);
    await waitForHttp(`${url}/stats`, entry);
    const stats = async () => getJson(`${url}/stats`);
    const accepted = async () =>
      Object.entries((await stats()).responses)
        .filter(([code]) => code.startsWith('2'))
        .reduce((sum, [, n]) => sum + n, 0);
    const pids = { server: entry.child.pid, fakeTelegram: telegram.pid, redis: redisPidOf };
    const result = await measure(label, { url, pids, accepted, exited: () => entry.exited }, telegram.url);
    const server = await stats();
    return {
      label,
      kind: logName,
      processes: 1,
      ...result,
      server: { responses: server.responses, errors: server.errors, memory: procStats(entry.child.pid) },
    };
  } finally {
    await stopChild(entry);
  }
}

/** tg-gateway: the API and `workers` worker processes, fresh for this measurement. */
async function runGateway({ workers, telegram, redisPidOf }) {
  const label = `tg-gateway, API + ${workers} worker${workers === 1 ? '' : 's'}`;
  const logName = `gateway-w${workers}`;
  const started = [];
  try {
    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const processEnv = gatewayEnv(apiPort, { TELEGRAM_API_ROOT: telegram.url });
    const api = startNode(
      `${logName}-api`,
      [...nodeArgs('BENCH_API_NODE_ARGS'), join(dist, 'main-api.js')],
      processEnv,
    );
    started.push(api.entry);
    const ready = [waitForHttp(`${apiUrl}/health/ready`, api.entry)];
    const workerProcs = [];
    for (let i = 1; i <= workers; i++) {
      const port = await freePort();
      const worker = startNode(
        `${logName}-worker${i}`,
        [...nodeArgs('BENCH_WORKER_NODE_ARGS'), join(dist, 'main-worker.js')],
        { ...processEnv, WORKER_PORT: String(port) },
      );
      started.push(worker.entry);
      workerProcs.push({ name: `worker${i}`, entry: worker.entry, url: `http://127.0.0.1:${port}` });
      ready.push(waitForHttp(`http://127.0.0.1:${port}/health/ready`, worker.entry));
    }
    await Promise.all(ready);

    const pids = { api: api.entry.child.pid };
    for (const w of workerProcs) pids[w.name] = w.entry.child.pid;
    Object.assign(pids, { fakeTelegram: telegram.pid, redis: redisPidOf });
    const accepted = async () =>
      metricSum(await getText(`${apiUrl}/metrics`), 'tg_gateway_webhook_requests_total', { outcome: 'accepted' });
    const exited = () => started.some((entry) => entry.exited);
    const logs = started.map((entry) => entry.name);
    const logStart = Object.fromEntries(logs.map((name) => [name, statSync(join(runDir, `${name}.log`)).size]));

    const result = await measure(label, { url: apiUrl, pids, accepted, exited }, telegram.url);

    const apiMetrics = await getText(`${apiUrl}/metrics`);
    const workerStats = {};
    for (const w of workerProcs) {
      const text = await getText(`${w.url}/metrics`);
      workerStats[w.name] = {
        processed: metricSum(text, 'tg_gateway_updates_processed_total'),
        failed: metricLabels(text, 'tg_gateway_updates_failed_total', 'kind'),
        memory: procStats(w.entry.child.pid),
      };
    }
    const logWarnings = {};
    for (const name of logs) {
      const text = readFileSync(join(runDir, `${name}.log`))
        .subarray(logStart[name])
        .toString('utf8');
      logWarnings[name.slice(logName.length + 1)] = text
        .split('\n')
        .filter((line) => /"level":(40|50|60)/.test(line)).length;
    }
    return {
      label,
      kind: 'gateway',
      workers,
      processes: 1 + workers,
      ...result,
      gateway: {
        outcomes: metricLabels(apiMetrics, 'tg_gateway_webhook_requests_total', 'outcome'),
        queueAfterDrain: metricLabels(apiMetrics, 'tg_gateway_queue_jobs', 'state'),
        apiMemory: procStats(pids.api),
        workers: workerStats,
        logWarnings,
      },
    };
  } finally {
    await Promise.all(started.map((entry) => stopChild(entry)));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run

function checksOf(r) {
  const out = [];
  const check = (name, ok, detail) => out.push({ name: `${r.label}: ${name}`, ok, detail });
  const t = r.totals;
  check('every request answered 2xx', t.non2xx === 0, `${t.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}`);
  check(
    'no socket errors or timeouts',
    t.errors === 0 && t.timeouts === 0,
    `${t.errors} errors, ${t.timeouts} timeouts`,
  );
  check(
    'accepted updates match the 2xx answers',
    t.accepted >= t.autocannon2xx && t.accepted - t.autocannon2xx <= t.inFlightAllowance,
    `${t.accepted} accepted vs ${t.autocannon2xx} 2xx (+${t.accepted - t.autocannon2xx} in flight at stop)`,
  );
  check(
    'exactly one reply per accepted update',
    t.replies === t.accepted,
    `${t.replies} sendMessage / ${t.accepted} accepted` +
      (t.caughtUp ? '' : ` (replies did not catch up within ${opts.drainTimeout} s)`),
  );
  if (r.server) check('no handler errors', r.server.errors === 0, `${r.server.errors} errors`);
  if (r.gateway) {
    const rejected = Object.entries(r.gateway.outcomes).filter(([outcome, n]) => outcome !== 'accepted' && n > 0);
    check('no duplicate or rejected outcome', rejected.length === 0, JSON.stringify(r.gateway.outcomes));
    const failed = Object.values(r.gateway.workers).reduce(
      (sum, w) => sum + Object.values(w.failed).reduce((a, b) => a + b, 0),
      0,
    );
    check('no failed update', failed === 0, `${failed} failed attempts`);
  }
  return out;
}

async function main() {
  const startedAt = new Date();
  console.log(
    `${TAG}: 1 bot, ${opts.chats} chats, ${opts.connections} connections, ${opts.warmup} s warm-up + ` +
      `${opts.duration} s per target, gateway with ${opts.workers.join(', ')} worker process(es), ` +
      `${cpus().length} CPU(s), node ${process.version}`,
  );
  if (env.BENCH_SOURCE) console.log(`${TAG}: code under test: ${env.BENCH_SOURCE}`);

  const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const fake = startNode('fake-telegram', [join(here, 'fake-telegram.mjs')], baseEnv, { firstLine: true });
  const results = [];
  let redisUsed;
  try {
    const telegram = { url: JSON.parse(await fake.line).url, pid: fake.entry.child.pid };
    const redisPidOf = await redisPid(redis);
    const redisBefore = await redisMemory(redis);
    const comparators = [
      { label: 'grammY webhookCallback (Fastify)', script: 'e2e-grammy.mjs', logName: 'e2e-grammy' },
      { label: 'Telegraf webhookCallback (node:http)', script: 'e2e-telegraf.mjs', logName: 'e2e-telegraf' },
    ];
    for (const server of opts.comparators ? comparators : []) {
      results.push(await runServer({ ...server, telegram, redisPidOf }));
    }
    for (const workers of opts.workers) results.push(await runGateway({ workers, telegram, redisPidOf }));
    redisUsed = { before: redisBefore, after: await redisMemory(redis) };
  } finally {
    await stopChild(fake.entry);
    redis.disconnect();
  }

  const checks = results.flatMap(checksOf);
  const comparators = results.filter((r) => r.kind !== 'gateway');
  const faster = (a, b) => (b.window.endToEndPerSecond > a.window.endToEndPerSecond ? b : a);
  const best = comparators.length ? comparators.reduce(faster) : null;
  const bestDuringLoad = Math.max(...comparators.map((r) => r.window.repliesPerSecondDuringLoad));
  const fastest = results.reduce(faster);
  const ratios = results
    .filter((r) => best && r.kind === 'gateway')
    .map((r) => ({
      workers: r.workers,
      endToEnd: round(r.window.endToEndPerSecond / best.window.endToEndPerSecond, 3),
      duringLoad: round(r.window.repliesPerSecondDuringLoad / bestDuringLoad, 3),
    }));
  const enough = ratios.filter((r) => r.endToEnd >= 1).map((r) => r.workers);

  const output = {
    benchmark: 'e2e',
    startedAt: startedAt.toISOString(),
    ...runInfo(),
    options: { ...opts, bots: 1, pipelining: 1, text: 'hello' },
    targets: results,
    fastest: fastest.label,
    fastestComparator: best?.label ?? null,
    gatewayVsFastestComparator: ratios,
    minimumWorkersToMatch: enough.length ? Math.min(...enough) : null,
    redisUsedBytes: redisUsed,
    checks,
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `e2e-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(output, null, 2) + '\n');

  console.log('');
  console.log(
    table([
      [
        'target',
        'processes',
        'end to end upd/s',
        'replies/s in load',
        'webhook req/s',
        'p50',
        'p99',
        'accepted',
        'replies',
        'last reply after load',
        'CPU ms/update',
      ],
      ...results.map((r) => [
        r.label,
        r.processes,
        fmt(r.window.endToEndPerSecond),
        fmt(r.window.repliesPerSecondDuringLoad),
        fmt(r.requestsAverage),
        `${fmt(r.latencyMs.p50)} ms`,
        `${fmt(r.latencyMs.p99)} ms`,
        fmt(r.totals.accepted),
        fmt(r.totals.replies),
        `${fmt(r.window.lastReplyAfterLoadSeconds, 2)} s`,
        fmt(r.cpuMsPerUpdate, 3),
      ]),
    ]),
  );
  console.log(
    '\n(end to end = updates accepted during the measured load / time from its start to the last reply; accepted and ' +
      'replies include the warm-up; CPU ms/update = target processes + Redis, from the load start to the last reply)',
  );
  console.log('\nCPU during the measured load, in cores (1.00 = one core busy the whole time):');
  for (const r of results) {
    const cores = Object.entries(r.cpuCores).map(([who, c]) => `${who} ${c === null ? 'n/a' : c.toFixed(2)}`);
    console.log(`  ${r.label}: ${cores.join(', ')}`);
  }
  for (const r of results) {
    if (r.kind !== 'gateway') continue;
    const cores = Object.entries(r.cpuCoresToLastReply.cores).map(
      ([who, c]) => `${who} ${c === null ? 'n/a' : c.toFixed(2)}`,
    );
    console.log(
      `  ${r.label}, load start → last reply (${r.cpuCoresToLastReply.wallSeconds.toFixed(1)} s): ${cores.join(', ')}`,
    );
  }
  for (const r of results) {
    const other = Math.max(r.cpuCores.otherProcesses ?? 0, r.cpuCoresToLastReply.cores.otherProcesses ?? 0);
    if (other > 0.2) {
      console.log(
        `  WARNING: other processes used ${other.toFixed(2)} cores during "${r.label}": its numbers are lower ` +
          'than on an idle machine',
      );
    }
  }
  for (const r of results.filter((x) => x.gateway)) {
    const warnings = Object.entries(r.gateway.logWarnings).map(([who, n]) => `${who} ${n}`);
    console.log(`log lines at warn or above from the load on, ${r.label}: ${warnings.join(', ')}`);
  }
  if (best) {
    console.log(
      `\nfastest end to end: ${fastest.label} (${fmt(fastest.window.endToEndPerSecond)} updates/s); faster comparator: ` +
        `${best.label} (${fmt(best.window.endToEndPerSecond)} updates/s)`,
    );
  }
  for (const r of ratios) {
    console.log(
      `tg-gateway with ${r.workers} worker process${r.workers === 1 ? '' : 'es'} / max(grammY, Telegraf): ` +
        `${r.endToEnd.toFixed(3)} end to end, ${r.duringLoad.toFixed(3)} replies/s during the load`,
    );
  }
  if (best) {
    console.log(
      enough.length
        ? `tg-gateway matched the faster comparator end to end with ${Math.min(...enough)} worker process(es)`
        : `tg-gateway did not match the faster comparator end to end with ${opts.workers.join(' or ')} worker process(es)`,
    );
  }
  console.log('');
  for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  console.log(`\nresults: ${file}\nlogs: ${runDir}`);
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  console.error(`\n${TAG}: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
