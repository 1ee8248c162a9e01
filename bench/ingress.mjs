// Webhook ingress benchmark. Run it through `npm run bench` (bench/run.sh), which prepares the database, the
// keys, the Redis prefix and the bench bots, and cleans up afterwards.
//
// In one run, with the same load (autocannon, BENCH_CONNECTIONS connections, BENCH_DURATION seconds after a
// BENCH_WARMUP seconds warm-up) and the same requests (a fresh Telegram update per request, rotating over the
// bench bots), one target after the other:
//   (a) bare:     a bare Fastify `POST /webhook/:token` route answering 200 (bench/bare-server.mjs, own process);
//   (b) API only: tg-gateway's `POST /webhook/:token`, the API process alone (nothing consumes the queue; its keys
//                 are deleted afterwards). Skipped with BENCH_API_ONLY=0;
//   (c) gateway:  the same with one worker process consuming the queue and replying through
//                 bench/fake-telegram.mjs (own process).
// For (b) and (c) it checks that every 2xx was accepted exactly once (the API's Prometheus counters); for (c) it
// waits (bounded) for the worker to drain the queue and compares the replies the fake Telegram received with the
// accepted updates. Before each target it waits (BENCH_WAIT_IDLE seconds at most) for the machine to be quiet.
//
// Environment (set by run.sh): BENCH_BOTS_FILE, BENCH_DIST, BENCH_RUN_DIR, BENCH_RESULTS_DIR, the gateway's own
// variables (DATABASE_URL, REDIS_URL, REDIS_PREFIX, TOKEN_ENCRYPTION_KEYS, TOKEN_HASH_KEY, ADMIN_API_KEYS...),
// and optionally BENCH_DURATION, BENCH_CONNECTIONS, BENCH_WARMUP, BENCH_DRAIN_TIMEOUT,
// BENCH_CHATS, BENCH_WAIT_IDLE, BENCH_API_ONLY, BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS (extra node flags for
// the API or worker process, e.g. "--cpu-prof --cpu-prof-dir=bench/results/prof").
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, URL } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const here = fileURLToPath(new URL('.', import.meta.url));

const env = process.env;
const opts = {
  duration: positiveInt('BENCH_DURATION', 10),
  warmup: positiveInt('BENCH_WARMUP', 2, 0),
  connections: positiveInt('BENCH_CONNECTIONS', 50),
  drainTimeout: positiveInt('BENCH_DRAIN_TIMEOUT', 60, 0),
  waitIdle: positiveInt('BENCH_WAIT_IDLE', 20, 0),
  apiOnly: env.BENCH_API_ONLY !== '0',
  chats: positiveInt('BENCH_CHATS', 1000),
};
const dist = resolve(env.BENCH_DIST ?? join(here, '..', 'dist'));
const resultsDir = resolve(env.BENCH_RESULTS_DIR ?? join(here, 'results'));
const runDir = resolve(env.BENCH_RUN_DIR ?? join(resultsDir, `run-${Date.now()}`));
const botsFile = env.BENCH_BOTS_FILE ?? join(runDir, 'bots.json');
const pidsFile = join(runDir, 'pids');
mkdirSync(runDir, { recursive: true });

function positiveInt(name, fallback, min = 1) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be an integer ≥ ${min} (got "${raw}")`);
  return Number(raw);
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const children = new Set();

/** Starts `node <args>` with its output in <runDir>/<name>.log; resolves the first stdout line if asked. */
function startNode(name, args, childEnv, { firstLine = false } = {}) {
  const log = createWriteStream(join(runDir, `${name}.log`));
  const child = spawn(process.execPath, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { name, child, exited: false, exitCode: null };
  children.add(entry);
  appendFileSync(pidsFile, `${child.pid}\n`);
  child.stderr.pipe(log);
  const exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      entry.exited = true;
      entry.exitCode = code ?? signal;
      children.delete(entry);
      resolveExit();
    });
  });
  entry.exitedPromise = exited;
  if (!firstLine) {
    child.stdout.pipe(log);
    return { entry, line: Promise.resolve(undefined) };
  }
  const lines = createInterface({ input: child.stdout });
  const line = new Promise((resolveLine, reject) => {
    let first = true;
    lines.on('line', (text) => {
      log.write(text + '\n');
      if (first) {
        first = false;
        resolveLine(text);
      }
    });
    void exited.then(() => {
      if (first) reject(new Error(`${name} exited (${entry.exitCode}) before it was ready; see ${name}.log`));
    });
  });
  return { entry, line };
}

async function stopChild(entry, timeoutMs = 10_000) {
  if (entry.exited) return;
  entry.child.kill('SIGTERM');
  const timer = sleep(timeoutMs).then(() => 'timeout');
  if ((await Promise.race([entry.exitedPromise, timer])) === 'timeout') {
    entry.child.kill('SIGKILL');
    await entry.exitedPromise;
  }
}

async function stopAll() {
  await Promise.all([...children].map((entry) => stopChild(entry)));
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\ningress: ${signal}, stopping the child processes`);
    void stopAll().finally(() => process.exit(130));
  });
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function waitForHttp(url, entry, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (entry.exited) throw new Error(`${entry.name} exited (${entry.exitCode}); see ${entry.name}.log`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last}); see ${entry.name}.log`);
}

// ---------------------------------------------------------------------------------------------------------------
// Process statistics (Linux /proc; null elsewhere)

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // keep the usual 100 Hz
}

function procStats(pid) {
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    // fields[11], fields[12]: utime and stime (the 14th and 15th fields of /proc/<pid>/stat)
    return {
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / clockTicks,
      rssBytes: kb('VmRSS'),
      peakRssBytes: kb('VmHWM'),
    };
  } catch {
    return null;
  }
}

/** CPU time of the whole machine (all processes), from the first line of /proc/stat. */
function machineStats() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    const busy = fields.slice(0, 8).reduce((sum, n) => sum + n, 0) - fields[3] - fields[4];
    return { cpuSeconds: busy / clockTicks };
  } catch {
    return null;
  }
}

/** Cores busy on the whole machine over `ms` milliseconds (nothing of ours should be running then). */
async function backgroundLoad(ms = 1_000) {
  const before = machineStats();
  await sleep(ms);
  return share(before, machineStats(), ms / 1000);
}

/**
 * Waits up to BENCH_WAIT_IDLE seconds for the machine to be quiet (other processes below a quarter of a core over
 * one second): on a shared machine, someone else's build or test run halves the numbers. Returns the last reading.
 */
async function waitForIdle(label) {
  const deadline = Date.now() + opts.waitIdle * 1000;
  let busy = await backgroundLoad();
  if (busy === null || busy < 0.25) return busy;
  process.stdout.write(
    `ingress: ${label}: the machine is busy (${busy.toFixed(2)} cores), waiting up to ${opts.waitIdle} s... `,
  );
  while (busy >= 0.25 && Date.now() < deadline) busy = await backgroundLoad();
  process.stdout.write(busy < 0.25 ? 'quiet now\n' : `still ${busy.toFixed(2)} cores busy, going ahead\n`);
  return busy;
}

function selfStats() {
  const usage = process.cpuUsage();
  return { cpuSeconds: (usage.user + usage.system) / 1e6, rssBytes: process.memoryUsage().rss, peakRssBytes: NaN };
}

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text format

function metricSum(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => have[key] === value)) {
      sum += Number(match[4]);
      found = true;
    }
  }
  return found ? sum : 0;
}

function metricLabels(text, name, label) {
  const out = {};
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\}\\s+(\\S+)`).exec(line);
    if (match) out[match[1]] = (out[match[1]] ?? 0) + Number(match[2]);
  }
  return out;
}

async function getText(url) {
  const adminKey = (env.ADMIN_API_KEYS ?? '').split(',')[0]?.trim();
  const headers = adminKey ? { authorization: `Bearer ${adminKey}`, 'x-api-key': adminKey } : {};
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} → HTTP ${response.status}`);
  return response.text();
}

async function getJson(url) {
  return JSON.parse(await getText(url));
}

// ---------------------------------------------------------------------------------------------------------------
// Load

const bots = JSON.parse(readFileSync(botsFile, 'utf8'));
if (!Array.isArray(bots) || bots.length === 0) throw new Error(`${botsFile} lists no bots`);
let nextUpdateId = 1;

/** One fresh update per request (a new update_id), rotating over the bots and over BENCH_CHATS chats. */
function setupRequest(request) {
  const n = nextUpdateId++;
  const bot = bots[n % bots.length];
  const chatId = 100_000 + (n % opts.chats);
  request.path = `/webhook/${bot.token}`;
  request.headers = {
    ...request.headers,
    'content-type': 'application/json',
    'x-telegram-bot-api-secret-token': bot.secret,
  };
  request.body = JSON.stringify({
    update_id: n,
    message: {
      message_id: n,
      date: 1_700_000_000,
      chat: { id: chatId, type: 'private', first_name: 'A' },
      from: { id: chatId, is_bot: false, first_name: 'A' },
      text: 'hello',
    },
  });
  return request;
}

async function load(url, seconds) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: opts.connections,
    duration: seconds,
    requests: [{ method: 'POST', setupRequest }],
  });
  return {
    seconds,
    requestsAverage: result.requests.average,
    requestsTotal: result.requests.total,
    latencyMs: {
      average: result.latency.average,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    status2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets ?? 0,
  };
}

/** Warm-up (not reported), then the measured run, with CPU time of the given processes over the measured run. */
async function measure(label, url, pids) {
  const busyBeforeStart = await waitForIdle(label);
  let warm = null;
  if (opts.warmup > 0) {
    process.stdout.write(`ingress: ${label}: warm-up ${opts.warmup} s... `);
    warm = await load(url, opts.warmup);
    process.stdout.write(`${Math.round(warm.requestsAverage)} req/s\n`);
  }
  process.stdout.write(`ingress: ${label}: ${opts.connections} connections, ${opts.duration} s... `);
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, procStats(pid)]));
  const selfBefore = selfStats();
  const machineBefore = machineStats();
  const started = process.hrtime.bigint();
  const run = await load(url, opts.duration);
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const selfAfter = selfStats();
  const machine = share(machineBefore, machineStats(), wallSeconds);
  const cpu = { loadGenerator: share(selfBefore, selfAfter, wallSeconds) };
  for (const [name, pid] of Object.entries(pids)) cpu[name] = share(before[name], procStats(pid), wallSeconds);
  // Whatever else ran on the machine meanwhile (other people's builds and tests skew the numbers).
  const ours = Object.values(cpu).reduce((sum, c) => sum + (c ?? 0), 0);
  cpu.otherProcesses = machine === null ? null : round(Math.max(0, machine - ours), 2);
  cpu.machineTotal = machine;
  process.stdout.write(`${Math.round(run.requestsAverage)} req/s\n`);
  return { ...run, warmup: warm, wallSeconds, cpuCores: cpu, busyCoresBeforeStart: busyBeforeStart };
}

/** Average cores used over the window (1.0 = one core busy all the time). */
function share(before, after, wallSeconds) {
  if (!before || !after) return null;
  return round((after.cpuSeconds - before.cpuSeconds) / wallSeconds, 2);
}

function round(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------------------------
// The run

const baseEnv = { ...env };
for (const key of Object.keys(baseEnv)) if (key.startsWith('npm_')) delete baseEnv[key];

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

async function redisMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

async function redisPid(redis) {
  try {
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || null;
  } catch {
    return null;
  }
}

async function slowlogHead(redis) {
  try {
    const [latest] = await redis.slowlog('GET', 1);
    return latest ? Number(latest[0]) : -1;
  } catch {
    return null;
  }
}

async function slowlogSince(redis, fromId) {
  if (fromId === null) return null;
  try {
    const entries = (await redis.slowlog('GET', 1000)).filter((entry) => Number(entry[0]) > fromId);
    const byCommand = {};
    let totalMs = 0;
    for (const entry of entries) {
      const command = String(entry[3]?.[0] ?? '?').toUpperCase();
      const ms = Number(entry[2]) / 1000;
      byCommand[command] = round((byCommand[command] ?? 0) + ms, 1);
      totalMs += ms;
    }
    return { entries: entries.length, totalMs: round(totalMs, 1), msByCommand: byCommand };
  } catch {
    return null;
  }
}

async function deleteKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function countKeys(redis, prefix) {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

/**
 * Measures tg-gateway's webhook: the API in its own process, and with `withWorker` one worker process consuming
 * the queue and replying through the fake Telegram (then waits, bounded, for it to drain the queue). Without the
 * worker, the queue only grows: its keys are deleted afterwards, so that the next phase starts from an empty queue.
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
    const gatewayEnv = {
      ...baseEnv,
      NODE_ENV: env.NODE_ENV ?? 'production',
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      PUBLIC_URL: apiUrl,
      TELEGRAM_API_ROOT: telegramUrl,
    };
    const nodeArgs = (name) => (env[name] ?? '').split(/\s+/).filter(Boolean);
    const api = startNode(
      `${logName}-api`,
      [...nodeArgs('BENCH_API_NODE_ARGS'), join(dist, 'main-api.js')],
      gatewayEnv,
    );
    started.push(api.entry);
    const ready = [waitForHttp(`${apiUrl}/health/ready`, api.entry)];
    let worker = null;
    if (withWorker) {
      worker = startNode(`${logName}-worker`, [...nodeArgs('BENCH_WORKER_NODE_ARGS'), join(dist, 'main-worker.js')], {
        ...gatewayEnv,
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
        autocannon2xx: result.status2xx + (result.warmup?.status2xx ?? 0),
        // Requests still in flight when autocannon stopped are accepted without being counted as 2xx.
        inFlightAllowance: opts.connections * (opts.warmup > 0 ? 2 : 1),
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
      process.stdout.write(`ingress: draining the queue (${acceptedTotal} accepted, up to ${opts.drainTimeout} s)... `);
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
      out.memory.afterDrain = {
        api: procStats(pids.api),
        worker: procStats(pids.worker),
        redisUsedBytes: await redisMemory(redis),
        redisKeysOfPrefix: await countKeys(redis, prefix),
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

function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function mb(bytes) {
  return bytes === null || bytes === undefined || Number.isNaN(bytes) ? 'n/a' : `${fmt(bytes / 1024 / 1024)} MB`;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => String(row[i]).length)));
  return rows
    .map((row, r) =>
      [
        row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  '),
        r === 0 ? widths.map((w) => '-'.repeat(w)).join('  ') : null,
      ]
        .filter(Boolean)
        .join('\n'),
    )
    .join('\n');
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
  check('bare: all 2xx', bare.non2xx === 0 && bare.errors === 0, `${bare.non2xx} non-2xx, ${bare.errors} errors`);
  for (const [name, r] of [
    ['gateway, API only', apiOnly],
    ['gateway + worker', gateway],
  ]) {
    if (!r) continue;
    check(`${name}: no non-2xx answers`, r.non2xx === 0, `${r.non2xx} non-2xx ${JSON.stringify(r.statusCodes)}`);
    check(
      `${name}: no socket errors or timeouts`,
      r.errors === 0 && r.timeouts === 0,
      `${r.errors} errors, ${r.timeouts} timeouts`,
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

  const ratio = round(gateway.requestsAverage / bare.requestsAverage, 3);
  const results = {
    benchmark: 'ingress',
    startedAt: startedAt.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    source: env.BENCH_SOURCE ?? null,
    // Gateway settings taken from the environment (they pass through to the API and the worker); secrets excluded.
    gatewaySettings: Object.fromEntries(
      Object.entries(env).filter(
        ([key]) =>
          /^(QUEUE_|WORKER_|JOB_|COMPLETED_|FAILED_|ENQUEUE_|BOT_CACHE|BOT_NEGATIVE|DEDUPE_|SESSION_|LOG_LEVEL|NODE_ENV)/.test(
            key,
          ) && key !== 'WORKER_PORT',
      ),
    ),
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
    `\ngateway + worker: queue at load end ${JSON.stringify(gateway.queueAtLoadEnd)}, ` +
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
  for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  console.log(`\nresults: ${file}`);
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  console.error(`\ningress: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
} finally {
  await stopAll();
}
