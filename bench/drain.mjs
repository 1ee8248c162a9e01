// Drain benchmark: what one worker process costs per update, measured alone. Run it through
// `npm run bench -- drain` (bench/run.sh prepares the database, the keys, the Redis prefix and the bench bots, and
// cleans up afterwards).
//
// The API alone (no worker) is loaded for BENCH_DURATION seconds (autocannon, BENCH_CONNECTIONS connections, a fresh
// update per request over the bench bots and BENCH_CHATS chats), so the conversation mailboxes fill up (one per bot
// and chat, see src/updates/mailbox-scripts.ts); then the API is stopped, one worker process (default settings:
// WORKER_CONCURRENCY conversations at once; WORKER_PORT set so that its /health and /metrics answer) is started
// against the fake Telegram (bench/fake-telegram.mjs), and from the moment it reports ready until the fake Telegram
// has a reply for every accepted update, the bench measures the replies per second and the CPU of the worker and of
// Redis per update. Nothing else runs meanwhile, so this is the steadiest figure for comparing versions of the
// worker (the end-to-end bench shares the two cores among five processes). Checks: every request 2xx, one reply per
// accepted update, no failed update, and once drained nothing pending and no mailbox or ready list left (keys by
// kind: bench/lib.mjs keyKind). BENCH_WORKER_NODE_ARGS adds node flags to the worker (e.g.
// "--cpu-prof --cpu-prof-dir=bench/results/prof").
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
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
  keysByKind,
  load,
  loadBots,
  metricLabels,
  metricSum,
  workerNodeArgs,
  positiveInt,
  printChecks,
  procStats,
  redisPid,
  resultsDir,
  round,
  runBench,
  runDir,
  runInfo,
  startNode,
  stopChild,
  stopChildrenOnSignals,
  updateRequests,
  waitForHttp,
  waitForIdle,
  waitForNoPending,
} from './lib.mjs';

const env = process.env;
const opts = {
  duration: positiveInt('BENCH_DURATION', 10),
  connections: positiveInt('BENCH_CONNECTIONS', 50),
  chats: positiveInt('BENCH_CHATS', 1000),
  drainTimeout: positiveInt('BENCH_DRAIN_TIMEOUT', 300, 0),
  waitIdle: positiveInt('BENCH_WAIT_IDLE', 20, 0),
};
const TAG = 'drain';
stopChildrenOnSignals(TAG);

async function main() {
  const startedAt = new Date();
  const bots = loadBots();
  const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const telegram = startNode('fake-telegram', [join(here, 'fake-telegram.mjs')], baseEnv, { firstLine: true });
  try {
    const telegramUrl = JSON.parse(await telegram.line).url;
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const workerUrl = `http://127.0.0.1:${workerPort}`;
    const processEnv = gatewayEnv(apiPort, { WORKER_PORT: String(workerPort), TELEGRAM_API_ROOT: telegramUrl });

    const api = startNode('drain-api', [join(dist, 'main-api.js')], processEnv);
    await waitForHttp(`${apiUrl}/health/ready`, api.entry);
    process.stdout.write(`${TAG}: filling the mailboxes through the API for ${opts.duration} s... `);
    const fill = await load(apiUrl, opts.duration, {
      connections: opts.connections,
      setupRequest: updateRequests(bots, opts.chats),
    });
    await sleep(500);
    const outcomes = metricLabels(await getText(`${apiUrl}/metrics`), 'tg_gateway_webhook_requests_total', 'outcome');
    const accepted = outcomes.accepted ?? 0;
    process.stdout.write(`${fmt(accepted)} updates accepted (${fmt(fill.requestsAverage)} req/s)\n`);
    await stopChild(api.entry);

    await waitForIdle('worker', { seconds: opts.waitIdle, tag: TAG });
    const worker = startNode('drain-worker', workerNodeArgs(), processEnv);
    await waitForHttp(`${workerUrl}/health/ready`, worker.entry);
    const pids = {
      worker: worker.entry.child.pid,
      fakeTelegram: telegram.entry.child.pid,
      redis: await redisPid(redis),
    };
    const endWindow = cpuWindow(pids);
    const repliesAtStart = (await getJson(`${telegramUrl}/stats`)).methods.sendMessage ?? 0;
    process.stdout.write(`${TAG}: worker ready with ${fmt(accepted - repliesAtStart)} updates left; draining... `);
    const deadline = Date.now() + opts.drainTimeout * 1000;
    let replies = repliesAtStart;
    while (replies < accepted && Date.now() < deadline && !worker.entry.exited) {
      await sleep(100);
      replies = (await getJson(`${telegramUrl}/stats`)).methods.sendMessage ?? 0;
    }
    const { wallSeconds, cpuCores } = endWindow();
    const drained = replies - repliesAtStart;
    const perSecond = drained / wallSeconds;
    const workerMetrics = await getText(`${workerUrl}/metrics`);
    const failed = metricSum(workerMetrics, 'tg_gateway_updates_failed_total');
    const cpuUs = (cores) => (cores === null ? null : round(((cores * wallSeconds) / drained) * 1e6));
    process.stdout.write(`${fmt(perSecond)} updates/s\n`);
    const memory = procStats(pids.worker);
    // A reply is counted a moment before its update leaves the mailbox: wait for the pending counter first.
    const prefix = env.REDIS_PREFIX ?? 'tgw';
    const pending = await waitForNoPending(redis, prefix);
    const keysLeft = await keysByKind(redis, prefix);
    await stopChild(worker.entry);

    const result = {
      benchmark: 'drain',
      startedAt: startedAt.toISOString(),
      ...runInfo(),
      options: opts,
      accepted,
      fillRequestsPerSecond: fill.requestsAverage,
      drained,
      wallSeconds: round(wallSeconds, 2),
      updatesPerSecond: round(perSecond),
      cpuCores,
      cpuMicrosecondsPerUpdate: { worker: cpuUs(cpuCores.worker), redis: cpuUs(cpuCores.redis) },
      workerRssBytes: memory?.rssBytes ?? null,
      pendingAfterDrain: pending,
      keysAfterDrain: keysLeft,
      checks: [
        {
          name: 'every request answered 2xx',
          ok: fill.non2xx === 0 && fill.errors === 0,
          detail: `${fill.non2xx} non-2xx`,
        },
        {
          name: 'one reply per accepted update',
          ok: replies === accepted && outcomes.duplicate === undefined,
          detail: `${fmt(replies)} replies / ${fmt(accepted)} accepted`,
        },
        { name: 'no failed update', ok: failed === 0, detail: `${failed} failed attempts` },
        {
          name: 'nothing left to do once drained (no update pending, no mailbox or ready list)',
          ok: pending === 0 && !keysLeft.mailbox && !keysLeft.ready,
          detail: `pending ${pending}; keys by kind ${JSON.stringify(keysLeft)}`,
        },
      ],
    };
    mkdirSync(resultsDir, { recursive: true });
    const file = join(resultsDir, `drain-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    console.log(
      `\n${TAG}: ${fmt(drained)} updates in ${wallSeconds.toFixed(1)} s = ${fmt(perSecond)} updates/s; CPU per update: ` +
        `worker ${fmt(result.cpuMicrosecondsPerUpdate.worker)} µs, Redis ${fmt(result.cpuMicrosecondsPerUpdate.redis)} µs` +
        ` (cores: worker ${cpuCores.worker}, Redis ${cpuCores.redis}, fake Telegram ${cpuCores.fakeTelegram}, ` +
        `other processes ${cpuCores.otherProcesses})\n`,
    );
    printChecks(result.checks);
    console.log(`\nresults: ${file}\nlogs: ${runDir}`);
  } finally {
    await stopChild(telegram.entry);
    redis.disconnect();
  }
}

await runBench(TAG, main);
