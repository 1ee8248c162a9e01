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
// accepted update (none lost, none duplicated), and for the gateway no duplicate/rejected outcome or failed update
// and, once the replies caught up, nothing pending and no conversation mailbox or ready list left (the keys under
// the run's prefix by kind are recorded: bench/lib.mjs keyKind). The gateway's workers get a WORKER_PORT each
// (bench/lib.mjs startGateway), so that their /health and /metrics answer.
// Before each target it waits (BENCH_WAIT_IDLE seconds at most) for the machine to be quiet.
//
// Environment (set by run.sh): BENCH_BOTS_FILE, BENCH_DIST, BENCH_RUN_DIR, BENCH_RESULTS_DIR, the gateway's own
// variables (DATABASE_URL, REDIS_URL, REDIS_PREFIX, TOKEN_ENCRYPTION_KEYS, ...), and optionally BENCH_DURATION,
// BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_CHATS, BENCH_DRAIN_TIMEOUT (default 120), BENCH_WAIT_IDLE, BENCH_WORKERS,
// BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS (extra node flags for the gateway's processes). Helpers: bench/lib.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { Redis } from 'ioredis';
import {
  deliveryChecks,
  fmt,
  getText,
  keysByKind,
  load as loadAt,
  loadBots,
  measureEndToEnd,
  metricLabels,
  metricSum,
  positiveInt,
  printChecks,
  procStats,
  redisMemory,
  redisPid,
  resultsDir,
  round,
  runBench,
  runDir,
  runInfo,
  startFakeTelegram,
  startGateway,
  startInlineServer,
  stopChild,
  stopChildrenOnSignals,
  table,
  updateRequests,
  waitForNoPending,
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
const bot = loadBots()[0];
const setupRequest = updateRequests([bot], opts.chats);
const load = (url, seconds) => loadAt(url, seconds, { connections: opts.connections, setupRequest });

// ---------------------------------------------------------------------------------------------------------------
// Targets

const measure = (label, target, telegramUrl) => measureEndToEnd(label, target, { telegramUrl, load, opts, tag: TAG });

/** A single-bot server (bench/e2e-grammy.mjs or bench/e2e-telegraf.mjs). */
async function runServer({ label, script, logName, telegram, redisPidOf }) {
  const server = await startInlineServer({ script, logName, bots: [bot], telegram });
  try {
    const pids = { ...server.pids, fakeTelegram: telegram.pid, redis: redisPidOf };
    const result = await measure(label, { ...server, pids }, telegram.url);
    const stats = await server.stats();
    return {
      label,
      kind: logName,
      processes: 1,
      ...result,
      server: { responses: stats.responses, errors: stats.errors, memory: procStats(server.pids.server) },
    };
  } finally {
    await server.stop();
  }
}

/** tg-gateway: the API and `workers` worker processes, fresh for this measurement. */
async function runGateway({ workers, telegram, redis, redisPidOf }) {
  const label = `tg-gateway, API + ${workers} worker${workers === 1 ? '' : 's'}`;
  const gateway = await startGateway({ logName: `gateway-w${workers}`, workers, telegram });
  try {
    const { apiUrl } = gateway;
    const pids = { ...gateway.pids, fakeTelegram: telegram.pid, redis: redisPidOf };
    const accepted = async () =>
      metricSum(await getText(`${apiUrl}/metrics`), 'tg_gateway_webhook_requests_total', { outcome: 'accepted' });
    const result = await measure(label, { url: apiUrl, pids, accepted, exited: gateway.exited }, telegram.url);
    // A reply is counted a moment before its update leaves the mailbox.
    const prefix = env.REDIS_PREFIX ?? 'tgw';
    const pendingAfterDrain = await waitForNoPending(redis, prefix);
    const keysAfterDrain = await keysByKind(redis, prefix);

    const apiMetrics = await getText(`${apiUrl}/metrics`);
    const workerStats = {};
    for (const w of gateway.workers) {
      const text = await getText(`${w.url}/metrics`);
      workerStats[w.name] = {
        processed: metricSum(text, 'tg_gateway_updates_processed_total'),
        failed: metricLabels(text, 'tg_gateway_updates_failed_total', 'kind'),
        memory: procStats(w.entry.child.pid),
      };
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
        pendingAfterDrain,
        keysAfterDrain,
        apiMemory: procStats(pids.api),
        workers: workerStats,
        logWarnings: gateway.logWarnings(),
      },
    };
  } finally {
    await gateway.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run

function checksOf(r) {
  const out = deliveryChecks(r, opts.drainTimeout);
  const check = (name, ok, detail) => out.push({ name: `${r.label}: ${name}`, ok, detail });
  if (r.server) check('no handler errors', r.server.errors === 0, `${r.server.errors} errors`);
  if (r.gateway) {
    const rejected = Object.entries(r.gateway.outcomes).filter(([outcome, n]) => outcome !== 'accepted' && n > 0);
    check('no duplicate or rejected outcome', rejected.length === 0, JSON.stringify(r.gateway.outcomes));
    const failed = Object.values(r.gateway.workers).reduce(
      (sum, w) => sum + Object.values(w.failed).reduce((a, b) => a + b, 0),
      0,
    );
    check('no failed update', failed === 0, `${failed} failed attempts`);
    const keys = r.gateway.keysAfterDrain;
    check(
      'nothing left to do once drained (no update pending, no mailbox or ready list)',
      r.gateway.pendingAfterDrain === 0 && !keys.mailbox && !keys.ready,
      `pending ${r.gateway.pendingAfterDrain}; keys by kind ${JSON.stringify(keys)}`,
    );
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
  const telegram = await startFakeTelegram('fake-telegram');
  const results = [];
  let redisUsed;
  try {
    const redisPidOf = await redisPid(redis);
    const redisBefore = await redisMemory(redis);
    const comparators = [
      { label: 'grammY webhookCallback (Fastify)', script: 'e2e-grammy.mjs', logName: 'e2e-grammy' },
      { label: 'Telegraf webhookCallback (node:http)', script: 'e2e-telegraf.mjs', logName: 'e2e-telegraf' },
    ];
    for (const server of opts.comparators ? comparators : []) {
      results.push(await runServer({ ...server, telegram, redisPidOf }));
    }
    for (const workers of opts.workers) results.push(await runGateway({ workers, telegram, redis, redisPidOf }));
    redisUsed = { before: redisBefore, after: await redisMemory(redis) };
  } finally {
    await stopChild(telegram.entry);
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
  printChecks(checks);
  console.log(`\nresults: ${file}\nlogs: ${runDir}`);
}

await runBench(TAG, main);
