// Webhook ingress benchmark. Run it through `npm run bench` (bench/run.sh), which prepares the database, the
// keys, the Redis prefix and the bench bots, and cleans up afterwards.
//
// In one run, with the same load (autocannon, BENCH_CONNECTIONS connections, BENCH_DURATION seconds after a
// BENCH_WARMUP seconds warm-up) and the same requests (a fresh Telegram update per request, rotating over the
// bench bots), one target after the other:
//   (a) bare:     a bare Fastify `POST /webhook/:token` route answering 200 (bench/bare-server.mjs, own process);
//   (b) API only: tg-gateway's `POST /webhook/:token`, the API process alone (nothing consumes the conversation
//                 mailboxes; every key of the run's prefix is deleted afterwards). Skipped with BENCH_API_ONLY=0;
//   (c) gateway:  the same with one worker process (default settings, WORKER_PORT set so that its /health and
//                 /metrics answer) running the conversations and replying through bench/fake-telegram.mjs (own
//                 process).
// For (b) and (c) it checks that every 2xx was accepted exactly once (the API's Prometheus counters); for (c) it
// waits (bounded) for the worker to empty the mailboxes, compares the replies the fake Telegram received with the
// accepted updates, and checks that nothing is left pending (the keys under the prefix by kind are recorded:
// bench/lib.mjs keyKind). Before each target it waits (BENCH_WAIT_IDLE seconds at most) for the machine to be quiet.
//
// Environment (set by run.sh): BENCH_BOTS_FILE, BENCH_DIST, BENCH_RUN_DIR, BENCH_RESULTS_DIR, the gateway's own
// variables (DATABASE_URL, REDIS_URL, REDIS_PREFIX, TOKEN_ENCRYPTION_KEYS, TOKEN_HASH_KEY, ADMIN_API_KEYS...),
// and optionally BENCH_DURATION, BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_DRAIN_TIMEOUT,
// BENCH_CHATS, BENCH_WAIT_IDLE, BENCH_API_ONLY, BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS (extra node flags for
// the API or worker process, e.g. "--cpu-prof --cpu-prof-dir=bench/results/prof"). Shared helpers: bench/lib.mjs.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  baseEnv,
  countKeys,
  cpuWindow,
  deleteKeys,
  dist,
  fmt,
  freePort,
  gatewayEnv,
  getJson,
  getText,
  here,
  keysByKind,
  load as loadAt,
  loadBots,
  mb,
  metricLabels,
  metricSum,
  nodeArgs,
  workerNodeArgs,
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
  slowlogHead,
  slowlogSince,
  startNode,
  stopChild,
  stopChildrenOnSignals,
  table,
  updateRequests,
  waitForHttp,
  waitForIdle,
  waitForNoPending,
} from './lib.mjs';

const env = process.env;
const opts = {
  duration: positiveInt('BENCH_DURATION', 10),
  warmup: positiveInt('BENCH_WARMUP', 2, 0),
  connections: positiveInt('BENCH_CONNECTIONS', 50),
  drainTimeout: positiveInt('BENCH_DRAIN_TIMEOUT', 60, 0),
  waitIdle: positiveInt('BENCH_WAIT_IDLE', 20, 0),
  apiOnly: env.BENCH_API_ONLY !== '0',
  chats: positiveInt('BENCH_CHATS', 1000),
  // After the run at saturation, one at this fixed rate (req/s over all connections; 0 skips it): latency under a
  // load the target can carry, rather than queueing at its limit.
  latencyRate: positiveInt('BENCH_LATENCY_RATE', 2000, 0),
};

stopChildrenOnSignals('ingress');

// ---------------------------------------------------------------------------------------------------------------
// Load

const bots = loadBots();
const setupRequest = updateRequests(bots, opts.chats);
const load = (url, seconds, rate) => loadAt(url, seconds, { connections: opts.connections, setupRequest, rate });

/** Warm-up (not reported), then the measured run, with CPU time of the given processes over the measured run. */
async function measure(label, url, pids) {
  const busyBeforeStart = await waitForIdle(label, { seconds: opts.waitIdle, tag: 'ingress' });
  let warm = null;
  if (opts.warmup > 0) {
    process.stdout.write(`ingress: ${label}: warm-up ${opts.warmup} s... `);
    warm = await load(url, opts.warmup);
    process.stdout.write(`${Math.round(warm.requestsAverage)} req/s\n`);
  }
  process.stdout.write(`ingress: ${label}: ${opts.connections} connections, ${opts.duration} s... `);
  const endWindow = cpuWindow(pids);
  const run = await load(url, opts.duration);
  const { wallSeconds, cpuCores: cpu } = endWindow();
  process.stdout.write(`${Math.round(run.requestsAverage)} req/s\n`);
  let fixedRate = null;
  if (opts.latencyRate > 0) {
    process.stdout.write(`ingress: ${label}: ${opts.latencyRate} req/s, ${opts.duration} s... `);
    fixedRate = await load(url, opts.duration, opts.latencyRate);
    process.stdout.write(`p50 ${fixedRate.latencyMs.p50} ms, p99 ${fixedRate.latencyMs.p99} ms\n`);
  }
  return { ...run, warmup: warm, fixedRate, wallSeconds, cpuCores: cpu, busyCoresBeforeStart: busyBeforeStart };
}

// ---------------------------------------------------------------------------------------------------------------
// The run

async function runBare() {
  const { entry, line } = startNode('bare-server', [join(here, 'bare-server.mjs')], baseEnv, { firstLine: true });
  try {
    const { url } = JSON.parse(await line);
    const result = await measure('bare Fastify', url, { server: entry.child.pid });
    return { ...result, server: procStats(entry.child.pid) };
  } finally {
    await stopChild(entry);
  }
}

/**
 * Measures tg-gateway's webhook: the API in its own process, and with `withWorker` one worker process running the
 * conversations and replying through the fake Telegram (then waits, bounded, for it to empty the mailboxes).
 * Without the worker, the mailboxes only grow: the prefix's keys are deleted afterwards, so that the next phase
 * starts from nothing.
 */
async function runGateway({ label, withWorker, logName }) {
  const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const prefix = env.REDIS_PREFIX ?? 'tgw';
  const started = [];
  try {
    const telegram = startNode(`${logName}-fake-telegram`, [join(here, 'fake-telegram.mjs')], baseEnv, {
      firstLine: true,
    });
    started.push(telegram.entry);
    const telegramUrl = JSON.parse(await telegram.line).url;

    const [apiPort, workerPort] = [await freePort(), await freePort()];
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    const processEnv = gatewayEnv(apiPort, { TELEGRAM_API_ROOT: telegramUrl });
    const api = startNode(
      `${logName}-api`,
      [...nodeArgs('BENCH_API_NODE_ARGS'), join(dist, 'main-api.js')],
      processEnv,
    );
    started.push(api.entry);
    const ready = [waitForHttp(`${apiUrl}/health/ready`, api.entry)];
    let worker = null;
    if (withWorker) {
      worker = startNode(`${logName}-worker`, workerNodeArgs(), {
        ...processEnv,
        WORKER_PORT: String(workerPort),
      });
      started.push(worker.entry);
      ready.push(waitForHttp(`${workerUrl}/health/ready`, worker.entry));
    }
    await Promise.all(ready);

    const pids = { api: api.entry.child.pid };
    if (worker) Object.assign(pids, { worker: worker.entry.child.pid, fakeTelegram: telegram.entry.child.pid });
    pids.redis = await redisPid(redis);
    const memoryBefore = {
      api: procStats(pids.api),
      worker: procStats(pids.worker),
      redisUsedBytes: await redisMemory(redis),
    };
    const acceptedBefore = metricSum(await getText(`${apiUrl}/metrics`), 'tg_gateway_webhook_requests_total', {
      outcome: 'accepted',
    });

    // Log lines written from here on (the start-up, readiness probes included, is not counted).
    const logNames = withWorker ? ['api', 'worker'] : ['api'];
    const logStart = Object.fromEntries(
      logNames.map((name) => [name, statSync(join(runDir, `${logName}-${name}.log`)).size]),
    );
    const slowlogFrom = await slowlogHead(redis);
    const result = await measure(label, apiUrl, pids);
    const loadEnded = Date.now();

    // Every 2xx must be an accepted update (none a duplicate: each update_id is new). Requests that were in flight
    // when autocannon stopped still finish on the server: read the counters once they stopped moving.
    let apiMetrics = await getText(`${apiUrl}/metrics`);
    for (let i = 0; i < 20; i++) {
      await sleep(150);
      const again = await getText(`${apiUrl}/metrics`);
      const settled =
        metricSum(again, 'tg_gateway_webhook_requests_total') ===
        metricSum(apiMetrics, 'tg_gateway_webhook_requests_total');
      apiMetrics = again;
      if (settled) break;
    }
    const redisSlowlog = await slowlogSince(redis, slowlogFrom);
    const outcomes = metricLabels(apiMetrics, 'tg_gateway_webhook_requests_total', 'outcome');
    const enqueueCount = metricSum(apiMetrics, 'tg_gateway_enqueue_duration_seconds_count');
    const enqueueSum = metricSum(apiMetrics, 'tg_gateway_enqueue_duration_seconds_sum');
    const memoryAtEnd = {
      api: procStats(pids.api),
      worker: procStats(pids.worker),
      redisUsedBytes: await redisMemory(redis),
      redisKeysOfPrefix: await countKeys(redis, prefix),
    };
    const out = {
      ...result,
      processes: { worker: withWorker },
      accepted: {
        metricAccepted: (outcomes.accepted ?? 0) - acceptedBefore,
        autocannon2xx: result.status2xx + (result.warmup?.status2xx ?? 0) + (result.fixedRate?.status2xx ?? 0),
        // Requests still in flight when autocannon stopped are accepted without being counted as 2xx.
        inFlightAllowance: opts.connections * (1 + (opts.warmup > 0 ? 1 : 0) + (result.fixedRate ? 1 : 0)),
        outcomes,
        meanEnqueueMs: enqueueCount ? round((enqueueSum / enqueueCount) * 1000, 3) : null,
      },
      queueAtLoadEnd: metricLabels(apiMetrics, 'tg_gateway_queue_jobs', 'state'),
      // Redis commands slower than Redis' slowlog threshold (10 ms by default) during the run, ours or anyone's:
      // a KEYS from another program blocks the single-threaded Redis for everybody.
      redisSlowlog,
      memory: { before: memoryBefore, atLoadEnd: memoryAtEnd },
    };

    if (worker) {
      // Drain: wait (bounded) until the worker has replied to every accepted update.
      const acceptedTotal = outcomes.accepted ?? 0;
      const repliesAtLoadEnd = (await getJson(`${telegramUrl}/stats`)).methods.sendMessage ?? 0;
      process.stdout.write(
        `ingress: draining the mailboxes (${acceptedTotal} accepted, up to ${opts.drainTimeout} s)... `,
      );
      let replies = repliesAtLoadEnd;
      const drainDeadline = Date.now() + opts.drainTimeout * 1000;
      while (replies < acceptedTotal && Date.now() < drainDeadline && !worker.entry.exited) {
        await sleep(250);
        replies = (await getJson(`${telegramUrl}/stats`)).methods.sendMessage ?? 0;
      }
      const drainSeconds = (Date.now() - loadEnded) / 1000;
      const drained = replies >= acceptedTotal;
      process.stdout.write(drained ? `done in ${drainSeconds.toFixed(1)} s\n` : `stopped at ${replies} replies\n`);
      const workerMetrics = await getText(`${workerUrl}/metrics`);
      const telegramFinal = await getJson(`${telegramUrl}/stats`);
      out.drain = {
        drained,
        secondsAfterLoad: round(drainSeconds, 1),
        repliesAtLoadEnd,
        replies: telegramFinal.methods.sendMessage ?? 0,
        acceptedAtEnd: metricSum(await getText(`${apiUrl}/metrics`), 'tg_gateway_webhook_requests_total', {
          outcome: 'accepted',
        }),
        telegramCalls: telegramFinal.methods,
        telegramConnections: telegramFinal.connections,
        workerProcessed: metricSum(workerMetrics, 'tg_gateway_updates_processed_total'),
        workerFailed: metricLabels(workerMetrics, 'tg_gateway_updates_failed_total', 'kind'),
      };
      // A reply is counted a moment before its update leaves the mailbox.
      out.drain.pendingAfterDrain = await waitForNoPending(redis, prefix);
      out.memory.afterDrain = {
        api: procStats(pids.api),
        worker: procStats(pids.worker),
        redisUsedBytes: await redisMemory(redis),
        redisKeysOfPrefix: await countKeys(redis, prefix),
        redisKeysByKind: await keysByKind(redis, prefix),
      };
    }
    out.logWarnings = {};
    for (const name of logNames) {
      const text = readFileSync(join(runDir, `${logName}-${name}.log`))
        .subarray(logStart[name])
        .toString('utf8');
      out.logWarnings[name] = text.split('\n').filter((line) => /"level":(40|50|60)/.test(line)).length;
    }
    return out;
  } finally {
    await Promise.all(started.map((entry) => stopChild(entry)));
    if (!withWorker) await deleteKeys(redis, prefix).catch(() => undefined);
    redis.disconnect();
  }
}

async function main() {
  const startedAt = new Date();
  console.log(
    `ingress: ${bots.length} bots, ${opts.connections} connections, ${opts.warmup} s warm-up + ${opts.duration} s ` +
      `per target, ${cpus().length} CPU(s), node ${process.version}`,
  );
  if (env.BENCH_SOURCE) console.log(`ingress: code under test: ${env.BENCH_SOURCE}`);
  const bare = await runBare();
  const apiOnly = opts.apiOnly
    ? await runGateway({ label: 'tg-gateway webhook, API only', withWorker: false, logName: 'api-only' })
    : null;
  const gateway = await runGateway({ label: 'tg-gateway webhook + worker', withWorker: true, logName: 'gateway' });

  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok, detail });
  // Over the saturation run and the fixed-rate one.
  const total = (r, key) => r[key] + (r.fixedRate?.[key] ?? 0);
  check(
    'bare: all 2xx',
    total(bare, 'non2xx') === 0 && total(bare, 'errors') === 0,
    `${total(bare, 'non2xx')} non-2xx, ${total(bare, 'errors')} errors`,
  );
  for (const [name, r] of [
    ['gateway, API only', apiOnly],
    ['gateway + worker', gateway],
  ]) {
    if (!r) continue;
    const non2xx = total(r, 'non2xx');
    check(`${name}: no non-2xx answers`, non2xx === 0, `${non2xx} non-2xx ${JSON.stringify(r.statusCodes)}`);
    check(
      `${name}: no socket errors or timeouts`,
      total(r, 'errors') === 0 && total(r, 'timeouts') === 0,
      `${total(r, 'errors')} errors, ${total(r, 'timeouts')} timeouts`,
    );
    const { metricAccepted, autocannon2xx, inFlightAllowance, outcomes } = r.accepted;
    check(
      `${name}: accepted (metrics) matches 2xx (autocannon)`,
      metricAccepted >= autocannon2xx && metricAccepted - autocannon2xx <= inFlightAllowance,
      `${metricAccepted} accepted vs ${autocannon2xx} 2xx (+${metricAccepted - autocannon2xx} in flight at stop)`,
    );
    const rejected = Object.entries(outcomes).filter(([outcome, n]) => outcome !== 'accepted' && n > 0);
    check(`${name}: no duplicate or rejected outcome`, rejected.length === 0, JSON.stringify(outcomes));
  }
  const { drain } = gateway;
  check(
    'gateway + worker, end to end: one sendMessage per accepted update',
    drain.replies === drain.acceptedAtEnd,
    `${drain.replies} replies / ${drain.acceptedAtEnd} accepted` +
      (drain.drained ? ` (drained ${drain.secondsAfterLoad} s after the load)` : ' (drain timed out)'),
  );
  const keysLeft = gateway.memory.afterDrain.redisKeysByKind;
  check(
    'gateway + worker: nothing left to do once drained (no update pending, no mailbox or ready list)',
    drain.pendingAfterDrain === 0 && !keysLeft.mailbox && !keysLeft.ready,
    `pending ${drain.pendingAfterDrain}; keys by kind ${JSON.stringify(keysLeft)}`,
  );

  const ratio = round(gateway.requestsAverage / bare.requestsAverage, 3);
  const results = {
    benchmark: 'ingress',
    startedAt: startedAt.toISOString(),
    ...runInfo(),
    options: { ...opts, bots: bots.length, pipelining: 1 },
    bare,
    apiOnly,
    gateway,
    ratio,
    ratioApiOnly: apiOnly ? round(apiOnly.requestsAverage / bare.requestsAverage, 3) : null,
    checks,
  };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `ingress-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');

  const targets = [
    ['bare Fastify POST route', bare],
    ['tg-gateway webhook, API only (no worker)', apiOnly],
    ['tg-gateway webhook + 1 worker process', gateway],
  ].filter(([, r]) => r);
  const row = (name, r) => [
    name,
    fmt(r.requestsAverage),
    `${fmt(r.latencyMs.p50)} ms`,
    `${fmt(r.latencyMs.p99)} ms`,
    fmt(r.status2xx),
    fmt(r.non2xx),
    fmt(r.errors + r.timeouts),
    r === bare ? '1' : (r.requestsAverage / bare.requestsAverage).toFixed(3),
  ];
  console.log('');
  console.log(
    table([
      ['target', 'req/s (avg)', 'p50', 'p99', '2xx', 'non-2xx', 'errors', 'vs bare'],
      ...targets.map(([name, r]) => row(name, r)),
    ]),
  );
  if (opts.latencyRate > 0) {
    console.log(
      `\nat a fixed ${fmt(opts.latencyRate)} req/s over ${opts.connections} connections (${opts.duration} s):`,
    );
    console.log(
      table([
        ['target', 'req/s', 'p50', 'p90', 'p99', 'p99.9', 'max', 'non-2xx'],
        ...targets.map(([name, r]) => [
          name,
          fmt(r.fixedRate.requestsAverage),
          ...['p50', 'p90', 'p99', 'p999', 'max'].map((p) => `${fmt(r.fixedRate.latencyMs[p])} ms`),
          fmt(r.fixedRate.non2xx),
        ]),
      ]),
    );
  }
  console.log('\nCPU over the measured run, in cores (1.00 = one core busy the whole time):');
  for (const [name, r] of targets) {
    const cores = Object.entries(r.cpuCores).map(([who, c]) => `${who} ${c === null ? 'n/a' : c.toFixed(2)}`);
    console.log(`  ${name}: ${cores.join(', ')}`);
  }
  for (const [name, r] of targets) {
    if ((r.cpuCores.otherProcesses ?? 0) > 0.2) {
      console.log(
        `  WARNING: other processes used ${r.cpuCores.otherProcesses.toFixed(2)} cores during "${name}": ` +
          'its numbers are lower than on an idle machine',
      );
    }
  }
  const m = gateway.memory;
  console.log(
    `\ngateway + worker: updates by state at load end ${JSON.stringify(gateway.queueAtLoadEnd)}, ` +
      `replies by then ${fmt(drain.repliesAtLoadEnd)}, mean enqueue ${gateway.accepted.meanEnqueueMs} ms` +
      (apiOnly ? ` (API only: ${apiOnly.accepted.meanEnqueueMs} ms)` : ''),
  );
  console.log(
    `memory: API RSS ${mb(m.before.api?.rssBytes)} → ${mb(m.afterDrain.api?.rssBytes)} ` +
      `(peak ${mb(m.afterDrain.api?.peakRssBytes)}), worker RSS ${mb(m.before.worker?.rssBytes)} → ` +
      `${mb(m.afterDrain.worker?.rssBytes)} (peak ${mb(m.afterDrain.worker?.peakRssBytes)}), Redis used ` +
      `${mb(m.before.redisUsedBytes)} → ${mb(m.afterDrain.redisUsedBytes)} ` +
      `(${fmt(m.afterDrain.redisKeysOfPrefix)} keys under the bench prefix)`,
  );
  console.log(
    `log lines at warn or above from the load on: api ${gateway.logWarnings.api}, worker ${gateway.logWarnings.worker}` +
      (apiOnly ? `, API only ${apiOnly.logWarnings.api}` : '') +
      ` (logs: ${runDir})`,
  );
  for (const [name, r] of targets) {
    if (r.redisSlowlog?.entries) {
      console.log(
        `Redis slowlog during "${name}": ${r.redisSlowlog.entries} command(s) over the threshold, ` +
          `${r.redisSlowlog.totalMs} ms in all ${JSON.stringify(r.redisSlowlog.msByCommand)}`,
      );
    }
  }
  console.log('');
  printChecks(checks);
  console.log(`\nresults: ${file}`);
}

await runBench('ingress', main);
