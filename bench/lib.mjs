// Helpers shared by the benchmarks (bench/*.mjs): paths and settings from the environment
// bench/run.sh prepares, the gateway processes' environment, child processes (started, logged, stopped, listed in <run dir>/pids for run.sh's exit
// trap), free ports, readiness, CPU and memory from /proc, idle-machine detection, the load generators (autocannon
// with a fresh Telegram update per request; the bench's own sender, closed-loop or paced, with exact counts), the
// targets of the end-to-end benchmarks (the gateway's processes, the inline comparator servers) and their
// measurement, Prometheus text parsing, Redis statistics and table formatting.
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, URL } from 'node:url';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { nowMs, stampedText, summarize } from './common.mjs';

export const here = fileURLToPath(new URL('.', import.meta.url));
const env = process.env;

export const dist = resolve(env.BENCH_DIST ?? join(here, '..', 'dist'));
export const resultsDir = resolve(env.BENCH_RESULTS_DIR ?? join(here, 'results'));
export const runDir = resolve(env.BENCH_RUN_DIR ?? join(resultsDir, `run-${Date.now()}`));
export const botsFile = env.BENCH_BOTS_FILE ?? join(runDir, 'bots.json');
const pidsFile = join(runDir, 'pids');
mkdirSync(runDir, { recursive: true });

/** The environment for child processes: ours without npm's variables. */
export const baseEnv = { ...env };
for (const key of Object.keys(baseEnv)) if (key.startsWith('npm_')) delete baseEnv[key];

/**
 * The environment of a gateway process under test (API or worker): the run's settings, production mode, warnings
 * and up only, the API on 127.0.0.1:`apiPort` (also its PUBLIC_URL); `extra` adds or overrides variables.
 */
export function gatewayEnv(apiPort, extra = {}) {
  return {
    ...baseEnv,
    NODE_ENV: env.NODE_ENV ?? 'production',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    PUBLIC_URL: `http://127.0.0.1:${apiPort}`,
    // A closed-loop load outruns the workers on purpose; the tenant backlog quota (429 at 10,000 waiting) would
    // measure that policy instead of the pipeline. Set it to measure with the quota.
    QUOTA_PENDING_UPDATES_PER_BOT: env.QUOTA_PENDING_UPDATES_PER_BOT ?? '0',
    ...extra,
  };
}

/**
 * The node flags every command that runs a worker passes (package.json `start` and `start:worker`, the image's CMD,
 * docker-compose.yml, the systemd unit; docs/architecture.md, "Worker heap"), so that the benchmarks measure the worker
 * as it is run. BENCH_WORKER_NODE_ARGS comes after them, so it can override them.
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=64'];

/** The arguments of `node` for a bench worker: the flags above, BENCH_WORKER_NODE_ARGS, dist/main-worker.js. */
export function workerNodeArgs() {
  return [...WORKER_NODE_FLAGS, ...nodeArgs('BENCH_WORKER_NODE_ARGS'), join(dist, 'main-worker.js')];
}

/** Extra `node` flags from a variable such as BENCH_API_NODE_ARGS ("--cpu-prof --cpu-prof-dir=…"). */
export function nodeArgs(name) {
  return (env[name] ?? '').split(/\s+/).filter(Boolean);
}

export function positiveInt(name, fallback, min = 1) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be an integer ≥ ${min} (got "${raw}")`);
  return Number(raw);
}

/** The bench bots registered by run.sh: [{ id, telegramId, token, secret }]. */
export function loadBots() {
  const bots = JSON.parse(readFileSync(botsFile, 'utf8'));
  if (!Array.isArray(bots) || bots.length === 0) throw new Error(`${botsFile} lists no bots`);
  return bots;
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const children = new Set();

/** Starts `node <args>` with its output in <runDir>/<name>.log; resolves the first stdout line if asked. */
export function startNode(name, args, childEnv, { firstLine = false } = {}) {
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

export async function stopChild(entry, timeoutMs = 10_000) {
  if (entry.exited) return;
  entry.child.kill('SIGTERM');
  const timer = sleep(timeoutMs).then(() => 'timeout');
  if ((await Promise.race([entry.exitedPromise, timer])) === 'timeout') {
    entry.child.kill('SIGKILL');
    await entry.exitedPromise;
  }
}

/**
 * Runs a bench's `main`: a crash is reported under `tag` with exit code 1, and whatever happens `cleanup` runs and
 * every child process is stopped.
 */
export async function runBench(tag, main, cleanup = () => undefined) {
  try {
    await main();
  } catch (error) {
    console.error(`\n${tag}: ${error instanceof Error ? error.stack : String(error)}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
    await stopAll();
  }
}

/** Prints one line per check (`ok` or `FAIL`); exit code 1 when one failed. */
export function printChecks(checks) {
  for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

export async function stopAll() {
  await Promise.all([...children].map((entry) => stopChild(entry)));
}

/** On SIGINT/SIGTERM: stops the child processes, then exits 130. `tag` prefixes the message. */
export function stopChildrenOnSignals(tag) {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      console.error(`\n${tag}: ${signal}, stopping the child processes`);
      void stopAll().finally(() => process.exit(130));
    });
  }
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export async function waitForHttp(url, entry, timeoutMs = 30_000) {
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

export function procStats(pid) {
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
export function machineStats() {
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
export async function backgroundLoad(ms = 1_000) {
  const before = machineStats();
  await sleep(ms);
  return share(before, machineStats(), ms / 1000);
}

/**
 * Waits up to `seconds` for the machine to be quiet (other processes below a quarter of a core over one second):
 * on a shared machine, someone else's build or test run halves the numbers. Returns the last reading.
 */
export async function waitForIdle(label, { seconds, tag }) {
  const deadline = Date.now() + seconds * 1000;
  let busy = await backgroundLoad();
  if (busy === null || busy < 0.25) return busy;
  process.stdout.write(
    `${tag}: ${label}: the machine is busy (${busy.toFixed(2)} cores), waiting up to ${seconds} s... `,
  );
  while (busy >= 0.25 && Date.now() < deadline) busy = await backgroundLoad();
  process.stdout.write(busy < 0.25 ? 'quiet now\n' : `still ${busy.toFixed(2)} cores busy, going ahead\n`);
  return busy;
}

export function selfStats() {
  const usage = process.cpuUsage();
  return { cpuSeconds: (usage.user + usage.system) / 1e6, rssBytes: process.memoryUsage().rss, peakRssBytes: NaN };
}

/**
 * Starts measuring the CPU time of the given processes ({ name: pid }), of this process (the load generator) and of
 * the whole machine. The returned function ends the window: { wallSeconds, cpuCores: { loadGenerator, <name>...,
 * otherProcesses, machineTotal } }, in cores (1.0 = one core busy all the time).
 */
export function cpuWindow(pids) {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, procStats(pid)]));
  const selfBefore = selfStats();
  const machineBefore = machineStats();
  const started = process.hrtime.bigint();
  return () => {
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const selfAfter = selfStats();
    const machine = share(machineBefore, machineStats(), wallSeconds);
    const cpu = { loadGenerator: share(selfBefore, selfAfter, wallSeconds) };
    for (const [name, pid] of Object.entries(pids)) cpu[name] = share(before[name], procStats(pid), wallSeconds);
    // Whatever else ran on the machine meanwhile (other people's builds and tests skew the numbers).
    const ours = Object.values(cpu).reduce((sum, c) => sum + (c ?? 0), 0);
    cpu.otherProcesses = machine === null ? null : round(Math.max(0, machine - ours), 2);
    cpu.machineTotal = machine;
    return { wallSeconds, cpuCores: cpu };
  };
}

/** Average cores used over the window (1.0 = one core busy all the time). */
export function share(before, after, wallSeconds) {
  if (!before || !after) return null;
  return round((after.cpuSeconds - before.cpuSeconds) / wallSeconds, 2);
}

export function round(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// ---------------------------------------------------------------------------------------------------------------
// Load

// One counter for the whole process: every request of a run carries a new update_id, whichever target it goes to
// (the gateway deduplicates on bot and update_id for 25 h, in a Redis prefix shared by the run's targets).
let nextUpdateId = 1;

/**
 * autocannon's `setupRequest` for one fresh update per request (a new update_id): a private text message 'hello',
 * rotating over the given bots and over `chats` chats, posted to `/webhook/<token>` with the bot's secret header.
 */
export function updateRequests(bots, chats) {
  const next = updateSource(bots, chats);
  return (request) => {
    const update = next();
    request.path = update.path;
    request.headers = { ...request.headers, ...update.headers };
    request.body = update.body;
    return request;
  };
}

/**
 * A function that returns the next request of a fresh update (a new update_id), rotating over the given bots and
 * over `chats` private chats: { bot, path, headers, body }. The text is 'hello', or with `stamped` the update id
 * and the send time (bench/common.mjs: the fake Telegram derives latency and duplicates from the echoed reply).
 */
export function updateSource(bots, chats, { stamped = false } = {}) {
  return () => {
    const n = nextUpdateId++;
    const bot = bots[n % bots.length];
    const chatId = 100_000 + (n % chats);
    return {
      bot,
      path: `/webhook/${bot.token}`,
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': bot.secret },
      body: updateBody(n, chatId, stamped ? stampedText(n) : 'hello'),
    };
  };
}

/** The JSON of a Telegram update: the private text message `text` from `chatId` in its own chat. */
export function updateBody(updateId, chatId, text = 'hello') {
  return JSON.stringify({
    update_id: updateId,
    message: {
      message_id: updateId,
      date: 1_700_000_000,
      chat: { id: chatId, type: 'private', first_name: 'A' },
      from: { id: chatId, is_bot: false, first_name: 'A' },
      text,
    },
  });
}

/** What every results file starts with: the machine, the code under test, the gateway settings that were set. */
export function runInfo() {
  return {
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version },
    source: env.BENCH_SOURCE ?? null,
    // Gateway settings taken from the environment (they pass through to the gateway's processes); secrets excluded.
    gatewaySettings: Object.fromEntries(
      Object.entries(env).filter(
        ([key]) =>
          /^(QUEUE_|WORKER_|JOB_|FAILED_|ENQUEUE_|BOT_CACHE|BOT_NEGATIVE|BOT_MAX_|CONVERSATION_|TELEGRAM_TIMEOUT|SHUTDOWN_|DEDUPE_|SESSION_|LOG_LEVEL|NODE_ENV)/.test(
            key,
          ) && key !== 'WORKER_PORT',
      ),
    ),
  };
}

/** `seconds` of load at full speed over `connections` keep-alive connections; autocannon's numbers, summarized. */
export async function load(url, seconds, { connections, setupRequest, rate }) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    // A fixed request rate across all connections (latency below saturation); by default as fast as answered.
    ...(rate ? { overallRate: rate } : {}),
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
      p999: result.latency.p99_9,
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

/**
 * The bench's own load generator over undici keep-alive connections, with exact counts: every request it starts is
 * awaited before it returns (autocannon drops the ones in flight when it stops), so its 2xx count is the number of
 * updates the target accepted. Two modes:
 *   - closed loop (no `rate`): `connections` requests in flight at all times, for `seconds`;
 *   - paced (`rate` req/s): open loop, request i sent at start + i / rate whether or not earlier ones were answered
 *     (evenly spaced, unlike autocannon's overallRate, which sends each connection's share in bursts); up to
 *     `connections` connections, requests beyond them wait in undici's queue (their wait counts as latency).
 *     `senderLagMs` says how late the sends were against their schedule (timer resolution is ~1 ms).
 * `next()` gives each request ({ bot, path, headers, body }, see updateSource); `counter` (if given) counts the 2xx
 * answers per Telegram bot id as they arrive ({ <bot id>: n }, over several runs). Latency is from the moment a request is handed to undici to its last byte.
 */
export async function send(url, { seconds, connections, rate, next, counter }) {
  const pool = new Pool(url, { connections, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const latencies = [];
  const lag = [];
  const statusCodes = {};
  const acceptedByBot = {};
  const errorMessages = {};
  let errors = 0;
  let sent = 0;
  const one = async () => {
    const update = next();
    sent++;
    const started = performance.now();
    try {
      const { statusCode, body } = await pool.request({
        method: 'POST',
        path: update.path,
        headers: update.headers,
        body: update.body,
      });
      await body.dump();
      latencies.push(performance.now() - started);
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      if (statusCode >= 200 && statusCode < 300) {
        const id = update.bot.telegramId;
        acceptedByBot[id] = (acceptedByBot[id] ?? 0) + 1;
        if (counter) counter[id] = (counter[id] ?? 0) + 1;
      }
    } catch (error) {
      errors++;
      const message = error instanceof Error ? (error.code ?? error.message) : String(error);
      errorMessages[message] = (errorMessages[message] ?? 0) + 1;
    }
  };
  const started = performance.now();
  const end = started + seconds * 1000;
  try {
    if (rate) {
      const inFlight = new Set();
      const total = Math.round(rate * seconds);
      for (let i = 0; i < total;) {
        const now = performance.now();
        for (; i < total && started + (i * 1000) / rate <= now; i++) {
          lag.push(now - (started + (i * 1000) / rate));
          const request = one();
          inFlight.add(request);
          void request.finally(() => inFlight.delete(request));
        }
        const wait = started + (i * 1000) / rate - performance.now();
        if (i < total && wait > 0) await sleep(Math.max(1, Math.floor(wait)));
      }
      await Promise.all(inFlight);
    } else {
      await Promise.all(
        Array.from({ length: connections }, async () => {
          while (performance.now() < end) await one();
        }),
      );
    }
  } finally {
    await pool.close().catch(() => undefined);
  }
  const elapsed = (performance.now() - started) / 1000;
  const ok = Object.entries(statusCodes)
    .filter(([code]) => code.startsWith('2'))
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    seconds,
    exact: true,
    rate: rate ?? null,
    sent,
    requestsTotal: sent - errors,
    // Over the whole time until the last answer (paced: the schedule's length plus the last answer's latency).
    requestsAverage: round(sent / elapsed),
    elapsedSeconds: round(elapsed, 3),
    latencyMs: summarize(latencies),
    senderLagMs: rate ? summarize(lag) : null,
    status2xx: ok,
    non2xx: sent - ok - errors,
    statusCodes,
    acceptedByBot,
    errors,
    errorMessages,
    timeouts: errorMessages.UND_ERR_HEADERS_TIMEOUT ?? 0,
    resets: 0,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// End-to-end targets: the fake Telegram, the gateway's processes, the inline comparator servers

/** The fake Bot API (bench/fake-telegram.mjs) with `settings` (FAKE_TELEGRAM_* variables): { url, pid, entry }. */
export async function startFakeTelegram(name, settings = {}) {
  const fake = startNode(name, [join(here, 'fake-telegram.mjs')], { ...baseEnv, ...settings }, { firstLine: true });
  return { url: JSON.parse(await fake.line).url, pid: fake.entry.child.pid, entry: fake.entry };
}

/** The fake Telegram's /stats; with `since` (ms, nowMs()'s clock) the latencies only of updates sent from then on. */
export function telegramStats(telegramUrl, since) {
  return getJson(`${telegramUrl}/stats${since ? `?since=${since}` : ''}`);
}

export async function resetTelegramStats(telegramUrl) {
  await fetch(`${telegramUrl}/stats`, { method: 'DELETE', signal: AbortSignal.timeout(5_000) });
}

/** The getMe result of a bench bot, as the inline servers are given it (no getMe call). */
export function botInfoOf(bot, name = 'Bench') {
  return {
    id: bot.telegramId,
    is_bot: true,
    first_name: name,
    username: `bench_${bot.telegramId}_bot`,
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
    can_connect_to_business: false,
    has_main_web_app: false,
  };
}

/**
 * An inline comparator (bench/e2e-grammy.mjs or bench/e2e-telegraf.mjs) serving `bots`, replying through
 * `telegramUrl`, its sessions under `<REDIS_PREFIX>:<logName>`. Resolves when it answers:
 * { url, entry, pids, stats(), accepted() (2xx answers so far), exited(), stop() }.
 */
export async function startInlineServer({ script, logName, bots, telegram }) {
  const childEnv = {
    ...baseEnv,
    E2E_BOTS: JSON.stringify(bots.map((b) => ({ token: b.token, secret: b.secret, botInfo: botInfoOf(b) }))),
    E2E_API_ROOT: telegram.url,
    // Under the run's prefix (cleaned up by run.sh), in a namespace of its own.
    E2E_REDIS_PREFIX: `${env.REDIS_PREFIX ?? 'tgw'}:${logName}`,
  };
  const { entry, line } = startNode(logName, [join(here, script)], childEnv, { firstLine: true });
  try {
    const { url } = JSON.parse(await line);
    await waitForHttp(`${url}/stats`, entry);
    const stats = () => getJson(`${url}/stats`);
    return {
      url,
      entry,
      pids: { server: entry.child.pid },
      stats,
      accepted: async () =>
        Object.entries((await stats()).responses)
          .filter(([code]) => code.startsWith('2'))
          .reduce((sum, [, n]) => sum + n, 0),
      exited: () => entry.exited,
      stop: () => stopChild(entry),
    };
  } catch (error) {
    await stopChild(entry);
    throw error;
  }
}

/**
 * The gateway: the API (dist/main-api.js) and `workers` worker processes (dist/main-worker.js; 0 for the API
 * alone), fresh, replying through `telegram.url`; `extraEnv` adds settings. Resolves when all are ready:
 * { apiUrl, pids: { api, worker1... }, workers: [{ name, entry, url }], entries, exited(), logWarnings(), stop() }.
 * logWarnings() counts the log lines at warn or above written since the processes were ready.
 */
export async function startGateway({ logName, workers, telegram, extraEnv = {} }) {
  const entries = [];
  try {
    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const processEnv = gatewayEnv(apiPort, { TELEGRAM_API_ROOT: telegram.url, ...extraEnv });
    const api = startNode(
      `${logName}-api`,
      [...nodeArgs('BENCH_API_NODE_ARGS'), join(dist, 'main-api.js')],
      processEnv,
    );
    entries.push(api.entry);
    const ready = [waitForHttp(`${apiUrl}/health/ready`, api.entry)];
    const workerProcs = [];
    for (let i = 1; i <= workers; i++) {
      const port = await freePort();
      const worker = startNode(`${logName}-worker${i}`, workerNodeArgs(), { ...processEnv, WORKER_PORT: String(port) });
      entries.push(worker.entry);
      workerProcs.push({ name: `worker${i}`, entry: worker.entry, url: `http://127.0.0.1:${port}` });
      ready.push(waitForHttp(`http://127.0.0.1:${port}/health/ready`, worker.entry));
    }
    await Promise.all(ready);
    const pids = { api: api.entry.child.pid };
    for (const w of workerProcs) pids[w.name] = w.entry.child.pid;
    const logStart = Object.fromEntries(entries.map((e) => [e.name, statSync(join(runDir, `${e.name}.log`)).size]));
    return {
      apiUrl,
      pids,
      workers: workerProcs,
      entries,
      exited: () => entries.some((entry) => entry.exited),
      logWarnings: () =>
        Object.fromEntries(
          entries.map((e) => [
            e.name.slice(logName.length + 1),
            readFileSync(join(runDir, `${e.name}.log`))
              .subarray(logStart[e.name])
              .toString('utf8')
              .split('\n')
              .filter((line) => /"level":(40|50|60)/.test(line)).length,
          ]),
        ),
      stop: () => Promise.all(entries.map((entry) => stopChild(entry))),
    };
  } catch (error) {
    await Promise.all(entries.map((entry) => stopChild(entry)));
    throw error;
  }
}

/**
 * Waits until the replies caught up with the accepted updates (or `timeoutMs` passed, or a process of the target
 * died). Polls `replies()` every 50 ms and `target.accepted()` every 150 ms; the accepted count must have been
 * stable for 300 ms (requests in flight when the load stopped still finish). Returns the final counts and the time
 * (performance.now()) at which the final reply count was first seen.
 */
export async function waitForReplies(target, replies, timeoutMs, initial) {
  const deadline = performance.now() + timeoutMs;
  let count = initial?.replies ?? (await replies());
  let lastReplyAt = initial?.at ?? performance.now();
  let accepted = await target.accepted();
  let acceptedStableSince = performance.now();
  let polls = 0;
  for (;;) {
    const now = performance.now();
    if (count >= accepted && now - acceptedStableSince >= 300) break;
    if (now > deadline || target.exited()) break;
    await sleep(50);
    const r = await replies();
    if (r !== count) {
      count = r;
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
  return { replies: count, accepted, lastReplyAt, caughtUp: count >= accepted };
}

/**
 * One end-to-end target: warm-up (the replies must catch up before the measurement starts), then `opts.duration`
 * seconds of `load(url, seconds)`, then the wait (`opts.drainTimeout` s at most) for the last reply.
 * `target`: { url, pids, accepted(), exited() }; counts are taken since the fake Telegram's statistics were reset
 * at the start of the target. `replies()` counts the replies that matter (default: every sendMessage).
 * End-to-end updates/s = updates accepted during the measured load / time from its start to the last reply.
 */
export async function measureEndToEnd(label, target, { telegramUrl, load, opts, tag, replies }) {
  const say = (text) => process.stdout.write(text);
  const countReplies = replies ?? (async () => (await telegramStats(telegramUrl)).methods.sendMessage ?? 0);
  const busyBeforeStart = await waitForIdle(label, { seconds: opts.waitIdle, tag });
  await resetTelegramStats(telegramUrl);
  const acceptedBase = await target.accepted();
  const counted = { accepted: async () => (await target.accepted()) - acceptedBase, exited: target.exited };

  let warmup = null;
  if (opts.warmup > 0) {
    say(`${tag}: ${label}: warm-up ${opts.warmup} s... `);
    const run = await load(target.url, opts.warmup);
    const started = performance.now();
    const caught = await waitForReplies(counted, countReplies, opts.drainTimeout * 1000);
    warmup = { ...run, secondsToCatchUp: round((performance.now() - started) / 1000, 2), caughtUp: caught.caughtUp };
    say(
      `${fmt(run.requestsAverage)} req/s` +
        (caught.caughtUp
          ? ''
          : ` (replies still behind after ${opts.drainTimeout} s: ${caught.replies}/${caught.accepted})`) +
        '\n',
    );
  }

  say(
    `${tag}: ${label}: ${opts.rate ? `paced ${opts.rate} req/s` : `${opts.connections} connections`}, ${opts.duration} s... `,
  );
  const repliesBefore = await countReplies();
  const acceptedBefore = await counted.accepted();
  const endLoadWindow = cpuWindow(target.pids);
  const endFullWindow = cpuWindow(target.pids);
  const started = performance.now();
  const startedWall = nowMs();
  const run = await load(target.url, opts.duration);
  const loadWindow = endLoadWindow();
  const repliesAtLoadEnd = await countReplies();
  const loadEndedAt = performance.now();
  say(`${fmt(run.requestsAverage)} req/s answered; waiting for the last reply... `);

  const final = await waitForReplies(counted, countReplies, opts.drainTimeout * 1000, {
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
    acceptedPerSecond: round(acceptedInWindow / loadSeconds),
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
  const telegram = await telegramStats(telegramUrl, startedWall);
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
      replies: final.replies,
      caughtUp: final.caughtUp,
      telegramCalls: telegram.methods,
      telegramConnections: telegram.connections,
      // Latency (stamped texts only) of the updates of the measured load, without the warm-up.
      telegram: { inFlight: telegram.inFlight, flooded: telegram.flooded, latencyMs: telegram.latencyMs },
      telegramByBot: telegram.byBot,
      autocannon2xx: run.status2xx + (warmup?.status2xx ?? 0),
      non2xx: run.non2xx + (warmup?.non2xx ?? 0),
      errors: run.errors + (warmup?.errors ?? 0),
      timeouts: run.timeouts + (warmup?.timeouts ?? 0),
      // Requests in flight when autocannon stopped are handled without being counted as 2xx; the bench's own
      // sender awaits them all.
      inFlightAllowance: run.exact ? 0 : opts.connections * (warmup ? 2 : 1),
    },
  };
}

/** The checks every end-to-end target must pass: `{ name, ok, detail }` each, prefixed with the target's label. */
export function deliveryChecks(r, drainTimeout) {
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
      (t.caughtUp ? '' : ` (replies did not catch up within ${drainTimeout} s)`),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Prometheus text format, HTTP

export function metricSum(text, name, labels = {}) {
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

export function metricLabels(text, name, label) {
  const out = {};
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\}\\s+(\\S+)`).exec(line);
    if (match) out[match[1]] = (out[match[1]] ?? 0) + Number(match[2]);
  }
  return out;
}

export async function getText(url) {
  const adminKey = (env.ADMIN_API_KEYS ?? '').split(',')[0]?.trim();
  const headers = adminKey ? { authorization: `Bearer ${adminKey}`, 'x-api-key': adminKey } : {};
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} → HTTP ${response.status}`);
  return response.text();
}

export async function getJson(url) {
  return JSON.parse(await getText(url));
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

export async function redisMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

export async function redisPid(redis) {
  try {
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]) || null;
  } catch {
    return null;
  }
}

export async function slowlogHead(redis) {
  try {
    const [latest] = await redis.slowlog('GET', 1);
    return latest ? Number(latest[0]) : -1;
  } catch {
    return null;
  }
}

export async function slowlogSince(redis, fromId) {
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

export async function deleteKeys(redis, prefix) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * The kind of a key of the update pipeline under `prefix` (the layout is described at the top of
 * src/updates/mailbox-scripts.ts): 'mailbox' (`mb:<bot>:<ck>`, deleted when empty), 'dedupe key'
 * (`dd:<bot>:<update_id>`, expires after DEDUPE_TTL_SECONDS), 'dead letter' (`dl:<id>` and its indexes `dls`,
 * `dlb:<bot>`, removed after FAILED_JOB_RETENTION_SECONDS), 'ready' (`rdy:<bot>`, `rot`: conversations waiting
 * for a worker, deleted when empty), 'retry/flood wait' (`delayed`, `paused`, `pause:<bot>`), 'worker state'
 * (`wk`, `wk:<worker>`, `wl:<worker>`, `lease`, `stall`: present while workers run), 'counter' (`pending`,
 * `epoch`, `sig`: a few small keys that stay), 'session' (`session:*`, the dispatcher's), else 'other'.
 */
export function keyKind(prefix, key) {
  const rest = key.startsWith(`${prefix}:`) ? key.slice(prefix.length + 1) : key;
  const [head] = rest.split(':', 1);
  switch (head) {
    case 'mb':
      return 'mailbox';
    case 'dd':
      return 'dedupe key';
    case 'dl':
    case 'dls':
    case 'dlb':
      return 'dead letter';
    case 'rdy':
    case 'rot':
      return 'ready';
    case 'delayed':
    case 'paused':
    case 'pause':
      return 'retry/flood wait';
    case 'wk':
    case 'wl':
    case 'lease':
    case 'stall':
      return 'worker state';
    case 'pending':
    case 'epoch':
    case 'sig':
      return 'counter';
    case 'session':
      return 'session';
    default:
      return 'other';
  }
}

/** The keys under `prefix` by kind (keyKind): { <kind>: count }. */
export async function keysByKind(redis, prefix) {
  const out = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const kind = keyKind(prefix, key);
      out[kind] = (out[kind] ?? 0) + 1;
    }
  } while (cursor !== '0');
  return out;
}

/**
 * Waits (up to `timeoutMs`) until the pipeline's `pending` counter (updates accepted and not yet done) is 0: the
 * fake Telegram may count a reply a moment before the worker removed the update from its mailbox. Returns the last
 * value read.
 */
export async function waitForNoPending(redis, prefix, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  let pending = Number((await redis.get(`${prefix}:pending`)) ?? 0);
  while (pending > 0 && Date.now() < deadline) {
    await sleep(100);
    pending = Number((await redis.get(`${prefix}:pending`)) ?? 0);
  }
  return pending;
}

export async function countKeys(redis, prefix) {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function fmt(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mb(bytes) {
  return bytes === null || bytes === undefined || Number.isNaN(bytes) ? 'n/a' : `${fmt(bytes / 1024 / 1024)} MB`;
}

export function table(rows) {
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
